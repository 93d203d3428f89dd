namespace CioSegment.Processor.Publish;

/// <summary>At most <c>perSecond</c> takes per second, evenly spaced.</summary>
internal sealed class RateGate(int perSecond, TimeProvider time)
{
    private readonly long _spacing = time.TimestampFrequency / perSecond;
    private long _next = time.GetTimestamp();

    public bool TryTake()
    {
        var now = time.GetTimestamp();
        if (now < _next)
        {
            return false;
        }

        _next = Math.Max(_next + _spacing, now - time.TimestampFrequency);
        return true;
    }
}
