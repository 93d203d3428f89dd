using CioSegment.Mapping.Settings;
using Microsoft.Extensions.Configuration;

namespace CioSegment.UnitTests;

public class SourceCatalogTests
{
    [Fact]
    public void Sources_are_read_from_configuration_including_environment_variables()
    {
        var prefix = "CIOTEST" + Guid.NewGuid().ToString("N")[..6] + "_";
        Environment.SetEnvironmentVariable(prefix + "CioSegment__Sources__acme__WriteKey", "wk");
        Environment.SetEnvironmentVariable(prefix + "CioSegment__Sources__acme__WebhookSigningKey", "sk");
        Environment.SetEnvironmentVariable(prefix + "CioSegment__Sources__acme__EnabledEvents", "email.*, sms.sent");
        Environment.SetEnvironmentVariable(prefix + "CioSegment__Sources__acme__Region", "eu");
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["CioSegment:Sources:beta:WriteKey"] = "wk2",
                    ["CioSegment:Sources:beta:WebhookSigningKey"] = "sk2",
                    ["CioSegment:Sources:beta:EnabledEvents:0"] = "push.*",
                    ["CioSegment:Sources:beta:EnabledEvents:1"] = "*.clicked",
                    ["CioSegment:Sources:beta:BodyContent"] = "true",
                })
                .AddEnvironmentVariables(prefix)
                .Build();

            var catalog = SourceCatalog.FromConfiguration(configuration);
            Assert.True(catalog.TryGet("acme", out var acme));
            Assert.Equal(SegmentRegion.Eu, acme.Region);
            Assert.Equal(["email.*", "sms.sent"], acme.EnabledEvents.Entries);
            Assert.Equal("wk", acme.WriteKey!.Reveal());

            Assert.True(catalog.TryGet("beta", out var beta));
            Assert.Equal(["push.*", "*.clicked"], beta.EnabledEvents.Entries);
            Assert.True(beta.BodyContent);
            Assert.False(catalog.TryGet("gamma", out _));
        }
        finally
        {
            foreach (var name in new[] { "WriteKey", "WebhookSigningKey", "EnabledEvents", "Region" })
            {
                Environment.SetEnvironmentVariable(prefix + "CioSegment__Sources__acme__" + name, null);
            }
        }
    }

    [Fact]
    public void Every_bad_setting_of_every_source_is_reported_together()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["CioSegment:Sources:a:WriteKey"] = "wk",
                ["CioSegment:Sources:a:Region"] = "asia",
                ["CioSegment:Sources:b:WebhookSigningKey"] = "sk",
                ["CioSegment:Sources:b:Version"] = "7",
            })
            .Build();
        var e = Assert.Throws<SourceSettingsException>(() => SourceCatalog.FromConfiguration(configuration));
        Assert.Contains(e.Errors, m => m.StartsWith("CioSegment:Sources:a:WebhookSigningKey:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("CioSegment:Sources:a:Region:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("CioSegment:Sources:b:WriteKey:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("CioSegment:Sources:b:Version:", StringComparison.Ordinal));
        Assert.Equal(4, e.Errors.Count);
    }
}
