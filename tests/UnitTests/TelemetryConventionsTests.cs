using System.Diagnostics.Metrics;
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
        using var measurements = new Measurements();
        var topic = "conventions-" + Guid.NewGuid();
        MessagingTelemetry.Operation("send", topic, TimeSpan.FromMilliseconds(12));
        MessagingTelemetry.Operation("send", topic, TimeSpan.FromSeconds(3), "Local_MsgTimedOut");

        var ours = measurements.Of(topic).Where(m => m.Instrument == "messaging.client.operation.duration").ToList();

        Assert.Equal(2, ours.Count);
        Assert.All(ours, o => Assert.Equal("send", o.Tags["messaging.operation.name"]));
        Assert.Equal(0.012, ours[0].Value, 6);
        Assert.False(ours[0].Tags.ContainsKey("error.type"));
        Assert.Equal("Local_MsgTimedOut", ours[1].Tags["error.type"]);
    }

    [Fact]
    public void Sent_and_consumed_counters_carry_the_operation_name()
    {
        using var measurements = new Measurements();
        var topic = "conventions-" + Guid.NewGuid();
        MessagingTelemetry.Sent(topic);
        MessagingTelemetry.Consumed(topic, "group");

        var ours = measurements.Of(topic);

        var sent = Assert.Single(ours, s => s.Instrument == "messaging.client.sent.messages");
        Assert.Equal("send", sent.Tags["messaging.operation.name"]);
        Assert.Equal("kafka", sent.Tags["messaging.system"]);
        var consumed = Assert.Single(ours, s => s.Instrument == "messaging.client.consumed.messages");
        Assert.Equal("poll", consumed.Tags["messaging.operation.name"]);
        Assert.Equal("group", consumed.Tags["messaging.consumer.group.name"]);
    }

    /// <summary>Every measurement of <see cref="MessagingTelemetry.Meter"/>'s instruments while it lives, with its attributes.</summary>
    private sealed class Measurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string Instrument, double Value, Dictionary<string, object?> Tags)> _seen = [];

        public Measurements()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter == MessagingTelemetry.Meter)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        /// <summary>The measurements about <paramref name="topic"/> (other tests may measure other topics meanwhile).</summary>
        public List<(string Instrument, double Value, Dictionary<string, object?> Tags)> Of(string topic)
        {
            lock (_seen)
            {
                return _seen.Where(s => Equals(s.Tags.GetValueOrDefault("messaging.destination.name"), topic)).ToList();
            }
        }

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var values = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                values[tag.Key] = tag.Value;
            }

            lock (_seen)
            {
                _seen.Add((instrument.Name, value, values));
            }
        }
    }
}
