using System.Diagnostics.Metrics;

namespace CioSegment.Tests;

/// <summary>
/// Every measurement of one meter's instruments while it lives, with its attributes (tests of the metrics a
/// stage reports). Other tests in the process may measure on the same meter meanwhile: filter by an attribute
/// the test owns, or run alone.
/// </summary>
internal sealed class MeterMeasurements : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, object?> Tags)> _seen = [];

    public MeterMeasurements(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The measurements whose attribute <paramref name="key"/> is <paramref name="value"/>.</summary>
    public List<(string Instrument, double Value, Dictionary<string, object?> Tags)> Where(string key, object? value)
    {
        lock (_seen)
        {
            return _seen.Where(s => Equals(s.Tags.GetValueOrDefault(key), value)).ToList();
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
