using CioSegment.Mapping.Settings;
using CioSegment.Processor.Publish;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace CioSegment.DevHost;

/// <summary>
/// In the DevHost, sources without an explicit <c>SegmentEndpoint</c> deliver to the local capture on the
/// DevHost's own address, so a local run never reaches Segment by accident, unless
/// <see cref="DevHostOptions.SendToSegment"/> is set.
/// </summary>
public sealed class LocalCaptureEndpoints(IServer server, IOptions<DevHostOptions> options) : ISegmentEndpoints
{
    public Uri For(SourceSettings source)
    {
        if (source.SegmentEndpoint is not null || options.Value.SendToSegment)
        {
            return source.EffectiveEndpoint;
        }

        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The DevHost has no listening address yet.");
        return new Uri(address.TrimEnd('/') + LocalSegmentCapture.BasePath);
    }
}
