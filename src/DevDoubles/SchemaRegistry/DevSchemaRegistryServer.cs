using System.Net;
using Microsoft.AspNetCore.Builder;

namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>
/// A stand-alone HTTP server (Kestrel, loopback only) hosting nothing but the development/test double of
/// Confluent Schema Registry. FOR DEVELOPMENT AND TESTS ONLY: in memory, no compatibility checks, no
/// persistence, no authentication. Production uses a real Confluent Schema Registry (docker-compose, Helm).
/// </summary>
/// <remarks>
/// Give <see cref="Url"/> to <c>SchemaRegistryConfig.Url</c> in any process on this machine: the real
/// <c>CachedSchemaRegistryClient</c>, <c>AvroSerializer</c> and <c>AvroDeserializer</c> work against it unchanged.
/// See <see cref="DevSchemaRegistryEndpoints"/> for the endpoints it implements.
/// </remarks>
public sealed class DevSchemaRegistryServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _disposed;

    private DevSchemaRegistryServer(WebApplication app, DevSchemaRegistry registry, Uri url)
    {
        _app = app;
        Registry = registry;
        Url = url;
    }

    /// <summary>
    /// The registry's base URL, prefix included (e.g. <c>http://127.0.0.1:41234/dev/schema-registry</c>):
    /// the value for <c>SchemaRegistryConfig.Url</c>.
    /// </summary>
    public Uri Url { get; }

    /// <summary>The in-memory store behind the endpoints, for tests that want to look inside or pre-register.</summary>
    public DevSchemaRegistry Registry { get; }

    /// <summary>
    /// Starts the server.
    /// </summary>
    /// <param name="url">
    /// <c>http://{loopback host}:{port}</c>; port 0 (the default) picks a free port. The host must be
    /// <c>127.0.0.1</c>, <c>[::1]</c> or <c>localhost</c> (bound as <c>127.0.0.1</c>): the double has no
    /// authentication, so it never listens on other interfaces.
    /// </param>
    /// <returns>The running server; dispose it to stop it.</returns>
    /// <exception cref="ArgumentException"><paramref name="url"/> is not an <c>http</c> URL on a loopback host without a path.</exception>
    public static async Task<DevSchemaRegistryServer> StartAsync(string url = "http://127.0.0.1:0")
    {
        var (address, port) = ParseLoopbackUrl(url);

        var registry = new DevSchemaRegistry();
        var (app, baseUri) = await LoopbackServer.StartAsync(
            "development schema registry", address, port, endpoints => endpoints.MapDevSchemaRegistry(registry, DevSchemaRegistryEndpoints.DefaultPrefix)).ConfigureAwait(false);
        return new DevSchemaRegistryServer(
            app,
            registry,
            new Uri($"http://{baseUri.Authority}{DevSchemaRegistryEndpoints.DefaultPrefix}"));
    }

    /// <summary>Stops the server. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await LoopbackServer.StopAsync(_app).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{DevSchemaRegistry.Label} at {Url}{(Volatile.Read(ref _disposed) != 0 ? " (stopped)" : "")}";

    private static (IPAddress Address, int Port) ParseLoopbackUrl(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"'{url}' is not an http URL; use e.g. http://127.0.0.1:0.", nameof(url));
        }

        if (uri.AbsolutePath != "/" || uri.Query.Length > 0)
        {
            throw new ArgumentException(
                $"'{url}' has a path or query; give only scheme, host and port (the registry is served under {DevSchemaRegistryEndpoints.DefaultPrefix}).",
                nameof(url));
        }

        IPAddress address;
        if (uri.IsLoopback && string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (IPAddress.TryParse(uri.DnsSafeHost, out var parsed) && IPAddress.IsLoopback(parsed))
        {
            address = parsed;
        }
        else
        {
            throw new ArgumentException(
                $"'{url}' is not on a loopback address; the development schema registry has no authentication and listens only on 127.0.0.1, [::1] or localhost.",
                nameof(url));
        }

        return (address, uri.Port);
    }
}
