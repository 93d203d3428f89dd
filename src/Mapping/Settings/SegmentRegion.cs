namespace CioSegment.Mapping.Settings;

/// <summary>The Segment workspace's data ingestion region. Events sent to the wrong region silently vanish.</summary>
public enum SegmentRegion
{
    Us,
    Eu,
}

public static class SegmentRegions
{
    public static readonly Uri UsEndpoint = new("https://api.segment.io");
    public static readonly Uri EuEndpoint = new("https://events.eu1.segmentapis.com");

    public static Uri Endpoint(SegmentRegion region) => region == SegmentRegion.Eu ? EuEndpoint : UsEndpoint;
}
