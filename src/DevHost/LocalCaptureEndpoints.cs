using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace CioSegment.DevHost;

/// <summary>
/// In the DevHost, sources without an explicit <c>SegmentEndpoint</c> deliver to the Segment stand-in
/// (<c>CioSegment.DevDoubles.Segment.SegmentStandIn</c>) served under <see cref="BasePath"/> on the
/// DevHost's own address, so a local run never reaches Segment by accident, unless
/// <see cref="DevHostOptions.SendToSegment"/> is set.
/// </summary>
public sealed class LocalCaptureEndpoints(IServer server, IOptions<DevHostOptions> options) : ISegmentEndpoints
{
    /// <summary>Where the DevHost serves the Segment stand-in's <c>/v1/batch</c>.</summary>
    public const string BasePath = "/dev/segment";

    public Uri For(SourceSettings source)
    {
        if (source.SegmentEndpoint is not null || options.Value.SendToSegment)
        {
            return source.EffectiveEndpoint;
        }

        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The DevHost has no listening address yet.");
        return new Uri(address.TrimEnd('/') + BasePath);
    }
}
