using CioSegment.Mapping.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

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

    private static SourceSettings Source(string id, string writeKey = "wk", string? region = null) =>
        SourceSettings.Create(id, new SourceOptions { WebhookSigningKey = "sk-" + id, WriteKey = writeKey, Region = region });

    [Fact]
    public void Apply_replaces_the_sources_and_reports_what_was_added_changed_and_removed()
    {
        var catalog = new SourceCatalog([Source("a"), Source("b"), Source("c")]);

        var changes = catalog.Apply([Source("a"), Source("b", writeKey: "rotated"), Source("d")]);

        Assert.Equal(["d"], changes.Added);
        Assert.Equal(["b"], changes.Changed);
        Assert.Equal(["c"], changes.Removed);
        Assert.Equal(["a", "b", "d"], catalog.All.Select(s => s.SourceId).Order());
        Assert.True(catalog.TryGet("b", out var b));
        Assert.Equal("rotated", b.WriteKey!.Reveal());
        Assert.False(catalog.TryGet("c", out _));
        Assert.True(catalog.Apply([Source("a"), Source("b", writeKey: "rotated"), Source("d")]).None);
        Assert.Equal(["b"], catalog.Apply([Source("a"), Source("b", writeKey: "rotated", region: "eu"), Source("d")]).Changed);
    }

    [Fact]
    public void A_removed_source_stays_usable_for_events_already_in_kafka_until_its_grace_ends()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var catalog = new SourceCatalog([Source("a", writeKey: "last"), Source("b")], TimeSpan.FromMinutes(15), time);

        catalog.Apply([Source("b")]);
        time.Advance(TimeSpan.FromMinutes(14));

        Assert.False(catalog.TryGet("a", out _));   // the ingest no longer accepts it
        Assert.True(catalog.TryGetIncludingRemoved("a", out var a));   // the processor still delivers what was accepted
        Assert.Equal("last", a.WriteKey!.Reveal());
        catalog.Apply([Source("b")]);   // a later reload does not restart the grace
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(catalog.TryGetIncludingRemoved("a", out _));

        catalog.Apply([Source("a", writeKey: "back"), Source("b")]);
        Assert.True(catalog.TryGet("a", out var back));
        Assert.Equal("back", back.WriteKey!.Reveal());
        catalog.Apply([Source("b")]);
        Assert.True(catalog.TryGetIncludingRemoved("a", out var again));   // a new grace from the new removal
        Assert.Equal("back", again.WriteKey!.Reveal());
    }

    [Fact]
    public void Keys_read_from_files_lose_the_trailing_newline_an_editor_adds()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["CioSegment:Sources:a:WebhookSigningKey"] = "sk\n",
                ["CioSegment:Sources:a:WriteKey"] = "wk\r\n",
            })
            .Build();

        Assert.True(SourceCatalog.FromConfiguration(configuration).TryGet("a", out var a));
        Assert.Equal("sk", a.WebhookSigningKey!.Reveal());
        Assert.Equal("wk", a.WriteKey!.Reveal());
    }
}
