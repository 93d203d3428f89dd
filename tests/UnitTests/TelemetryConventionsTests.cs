using CioSegment.ServiceDefaults;

namespace CioSegment.UnitTests;

/// <summary>OpenTelemetry conventions the services follow: <c>service.version</c>, and the messaging counters' attributes.</summary>
public class TelemetryConventionsTests
{
    [Fact]
    public void Service_version_is_the_informational_version_without_the_commit()
    {
        var version = Telemetry.ServiceVersion(typeof(Telemetry).Assembly);

        Assert.False(string.IsNullOrEmpty(version));
        Assert.DoesNotContain('+', version);
        Assert.Equal("unknown", Telemetry.ServiceVersion(null));
    }

    [Fact]
    public void Operation_durations_carry_the_operation_and_the_error_type()
    {
        using var measurements = new MeterMeasurements(MessagingTelemetry.Meter);
        var topic = "conventions-" + Guid.NewGuid();
        MessagingTelemetry.Operation("send", topic, TimeSpan.FromMilliseconds(12));
        MessagingTelemetry.Operation("send", topic, TimeSpan.FromSeconds(3), "Local_MsgTimedOut");

        var ours = measurements.Where("messaging.destination.name", topic).Where(m => m.Instrument == "messaging.client.operation.duration").ToList();

        Assert.Equal(2, ours.Count);
        Assert.All(ours, o => Assert.Equal("send", o.Tags["messaging.operation.name"]));
        Assert.Equal(0.012, ours[0].Value, 6);
        Assert.False(ours[0].Tags.ContainsKey("error.type"));
        Assert.Equal("Local_MsgTimedOut", ours[1].Tags["error.type"]);
    }

    [Fact]
    public void Sent_and_consumed_counters_carry_the_operation_name()
    {
        using var measurements = new MeterMeasurements(MessagingTelemetry.Meter);
        var topic = "conventions-" + Guid.NewGuid();
        MessagingTelemetry.Sent(topic);
        MessagingTelemetry.Consumed(topic, "group");

        var ours = measurements.Where("messaging.destination.name", topic);

        var sent = Assert.Single(ours, s => s.Instrument == "messaging.client.sent.messages");
        Assert.Equal("send", sent.Tags["messaging.operation.name"]);
        Assert.Equal("kafka", sent.Tags["messaging.system"]);
        var consumed = Assert.Single(ours, s => s.Instrument == "messaging.client.consumed.messages");
        Assert.Equal("poll", consumed.Tags["messaging.operation.name"]);
        Assert.Equal("group", consumed.Tags["messaging.consumer.group.name"]);
    }
}
