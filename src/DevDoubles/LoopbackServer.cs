using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CioSegment.DevDoubles;

/// <summary>
/// How the HTTP doubles run on their own: a bare Kestrel on one loopback address, built from an empty
/// builder so no appsettings, environment variable or command line changes what it binds to.
/// </summary>
internal static class LoopbackServer
{
    /// <summary>Starts the server with the endpoints <paramref name="map"/> adds; returns it and its bound base address.</summary>
    public static async Task<(WebApplication App, Uri Address)> StartAsync(string name, IPAddress address, int port, Action<WebApplication> map)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(LoopbackServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(options => options.Listen(address, port));
        builder.Services.AddRoutingCore();
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        app.UseRouting();
        map(app);
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (bound is null)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"Kestrel reported no bound address for the {name}.");
        }

        return (app, new Uri(bound.TrimEnd('/') + "/"));
    }

    /// <summary>Stops and disposes a server started by <see cref="StartAsync"/>, waiting at most 5 s for requests to finish.</summary>
    public static async ValueTask StopAsync(WebApplication app)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
