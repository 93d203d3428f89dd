namespace CioSegment.DevHost;

/// <summary>Settings of the local run, section <c>CioSegment:DevHost</c>.</summary>
public sealed class DevHostOptions
{
    public const string SectionName = "CioSegment:DevHost";

    /// <summary>Partitions of the pipeline's topics on the embedded broker.</summary>
    public int Partitions { get; set; } = 6;

    /// <summary>Where the local Segment capture appends batches (one JSON line per batch).</summary>
    public string CaptureDirectory { get; set; } = ".local";

    /// <summary>
    /// Off (default): sources without a <c>SegmentEndpoint</c> deliver to the Segment stand-in, so a local
    /// run never sends to Segment by accident. On: they use their region's real Segment endpoint.
    /// </summary>
    public bool SendToSegment { get; set; }

    /// <summary>Log every record that reaches the raw, sink and dead-letter topics.</summary>
    public bool TailTopics { get; set; } = true;
}
