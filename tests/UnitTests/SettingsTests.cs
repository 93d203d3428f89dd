using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.UnitTests;

/// <summary>Per-source settings: defaults, parsing and validation that names the bad setting.</summary>
public class SettingsTests
{
    private static SourceOptions Valid() => new() { WebhookSigningKey = "sign-me", WriteKey = "wk-123" };

    [Fact]
    public void Defaults_follow_mapping_md()
    {
        var s = SourceSettings.Create("acme", Valid());
        Assert.Equal(SegmentRegion.Us, s.Region);
        Assert.Equal(new Uri("https://api.segment.io"), s.EffectiveEndpoint);
        Assert.Same(EnabledEvents.All, s.EnabledEvents);
        Assert.Equal(SendFrequency.Every, s.SendFrequency);
        Assert.False(s.BodyContent);
        Assert.False(s.SendBackToCustomerIo);
        Assert.Equal(IntegrationVersion.V2, s.Version);
        Assert.Equal("wk-123", s.WriteKey!.Reveal());
    }

    [Fact]
    public void Every_setting_is_read()
    {
        var o = Valid();
        o.Region = "EU";
        o.EnabledEvents = ["email.*", "*.clicked"];
        o.SendFrequency = "First";
        o.BodyContent = "true";
        o.SendBackToCustomerIo = "True";
        o.Version = "1";
        var s = SourceSettings.Create("acme", o);
        Assert.Equal(SegmentRegion.Eu, s.Region);
        Assert.Equal(new Uri("https://events.eu1.segmentapis.com"), s.EffectiveEndpoint);
        Assert.Equal(SendFrequency.First, s.SendFrequency);
        Assert.True(s.BodyContent);
        Assert.True(s.SendBackToCustomerIo);
        Assert.Equal(IntegrationVersion.V1, s.Version);
        Assert.True(s.EnabledEvents.IsEnabled("email"u8, "bounced"u8));
        Assert.True(s.EnabledEvents.IsEnabled("push"u8, "clicked"u8));
        Assert.False(s.EnabledEvents.IsEnabled("push"u8, "sent"u8));
    }

    [Fact]
    public void An_explicit_endpoint_overrides_the_region()
    {
        var o = Valid();
        o.Region = "eu";
        o.SegmentEndpoint = "http://127.0.0.1:9000";
        Assert.Equal(new Uri("http://127.0.0.1:9000"), SourceSettings.Create("acme", o).EffectiveEndpoint);
    }

    [Theory]
    [InlineData(nameof(SourceOptions.Region), "mars", "CioSegment:Sources:acme:Region")]
    [InlineData(nameof(SourceOptions.SegmentEndpoint), "ftp://segment", "CioSegment:Sources:acme:SegmentEndpoint")]
    [InlineData(nameof(SourceOptions.SegmentEndpoint), "not a url", "CioSegment:Sources:acme:SegmentEndpoint")]
    [InlineData(nameof(SourceOptions.SendFrequency), "sometimes", "CioSegment:Sources:acme:SendFrequency")]
    [InlineData(nameof(SourceOptions.BodyContent), "yes", "CioSegment:Sources:acme:BodyContent")]
    [InlineData(nameof(SourceOptions.SendBackToCustomerIo), "2", "CioSegment:Sources:acme:SendBackToCustomerIo")]
    [InlineData(nameof(SourceOptions.Version), "3", "CioSegment:Sources:acme:Version")]
    [InlineData(nameof(SourceOptions.WriteKey), "", "CioSegment:Sources:acme:WriteKey")]
    [InlineData(nameof(SourceOptions.WebhookSigningKey), " ", "CioSegment:Sources:acme:WebhookSigningKey")]
    public void A_bad_setting_is_named_in_the_error(string property, string value, string expectedPath)
    {
        var o = Valid();
        typeof(SourceOptions).GetProperty(property)!.SetValue(o, value);
        Assert.False(SourceSettings.TryCreate("acme", o, out var settings, out var errors));
        Assert.Null(settings);
        var error = Assert.Single(errors);
        Assert.StartsWith(expectedPath + ":", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_error_is_reported_at_once_and_create_throws_with_all_of_them()
    {
        var o = new SourceOptions { Region = "mars", Version = "9", EnabledEvents = ["email", "sms.sent", "a.b.c"] };
        var e = Assert.Throws<SourceSettingsException>(() => SourceSettings.Create("acme", o));
        Assert.Equal(6, e.Errors.Count);
        Assert.Contains(e.Errors, m => m.StartsWith("CioSegment:Sources:acme:EnabledEvents:0:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, m => m.StartsWith("CioSegment:Sources:acme:EnabledEvents:2:", StringComparison.Ordinal));
        Assert.Contains("CioSegment:Sources:acme:Region", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("slash/es")]
    public void Source_ids_must_be_url_safe(string id)
    {
        Assert.False(SourceSettings.TryCreate(id, Valid(), out _, out var errors));
        Assert.StartsWith("CioSegment:Sources:", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_enabled_events_list_is_an_error_rather_than_silently_sending_nothing()
    {
        var o = Valid();
        o.EnabledEvents = [];
        Assert.False(SourceSettings.TryCreate("acme", o, out _, out var errors));
        Assert.StartsWith("CioSegment:Sources:acme:EnabledEvents:", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_never_appear_in_text_or_errors()
    {
        var o = new SourceOptions { WebhookSigningKey = "SIGNING-SECRET", WriteKey = "WRITE-SECRET", SegmentEndpoint = "https://user:PASSWORD@host?x=1", Region = "mars" };
        Assert.False(SourceSettings.TryCreate("acme", o, out _, out var errors));
        foreach (var e in errors)
        {
            Assert.DoesNotContain("SECRET", e, StringComparison.Ordinal);
            Assert.DoesNotContain("PASSWORD", e, StringComparison.Ordinal);
        }

        var ok = SourceSettings.Create("acme", new SourceOptions { WebhookSigningKey = "SIGNING-SECRET", WriteKey = "WRITE-SECRET" });
        Assert.DoesNotContain("SECRET", ok.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", $"{ok.WriteKey} {ok.WebhookSigningKey}", StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*", "anything", "at_all", true)]
    [InlineData("email.*", "email", "opened", true)]
    [InlineData("email.*", "EMAIL", "x", true)]
    [InlineData("email.*", "sms", "sent", false)]
    [InlineData("*.clicked", "push", "clicked", true)]
    [InlineData("*.clicked", "push", "opened", false)]
    [InlineData("email.opened", "email", "Opened", true)]
    [InlineData("email.opened", "email", "opened_twice", false)]
    [InlineData("*.*", "a", "b", true)]
    [InlineData("customer.subscription_preferences_changed", "customer", "cio_subscription_preferences_changed", true)]
    [InlineData("customer.cio_subscription_preferences_changed", "customer", "subscription_preferences_changed", true)]
    [InlineData("customer.cio_subscription_preferences_changed", "customer", "CIO_subscription_preferences_changed", true)]
    [InlineData("customer.subscription_preferences_changed", "customer", "subscribed", false)]
    [InlineData("customer.*", "customer", "cio_subscription_preferences_changed", true)]
    [InlineData("*.subscription_preferences_changed", "customer", "cio_subscription_preferences_changed", true)]
    [InlineData("email.cio_", "email", "cio_", true)]
    public void Enabled_events_match_patterns_with_wildcards(string pattern, string objectType, string metric, bool expected)
    {
        var enabled = EnabledEvents.Parse([pattern], "x", []);
        Assert.NotNull(enabled);
        Assert.Equal(expected, enabled.IsEnabled(System.Text.Encoding.UTF8.GetBytes(objectType), System.Text.Encoding.UTF8.GetBytes(metric)));
    }

    [Fact]
    public void Events_not_enabled_are_skipped_not_failed()
    {
        var settings = SourceSettings.ForMapping(enabledEvents: EnabledEvents.Parse(["email.sent"], "x", [])!);
        var (result, track) = Mapping.Map(Mapping.Webhook("email", "opened").ToJsonString(), settings);
        Assert.Equal(MapOutcome.Skipped, result.Outcome);
        Assert.Equal(SkipReason.EventNotEnabled, result.SkipReason);
        Assert.Null(track);
        Assert.Equal(MapOutcome.Mapped, Mapping.Map(Mapping.Webhook("email", "sent").ToJsonString(), settings).Result.Outcome);
    }
}
