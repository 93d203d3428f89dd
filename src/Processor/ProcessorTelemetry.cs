using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CioSegment.Processor;

/// <summary>
/// The processor's meter and activity source (scope <c>CioSegment.Processor</c>), shared by its two stages,
/// the transformer and the publisher, which otherwise know nothing of each other.
/// </summary>
public static class ProcessorTelemetry
{
    public const string Name = "CioSegment.Processor";

    public static readonly Meter Meter = new(Name);

    public static readonly ActivitySource ActivitySource = new(Name);
}
