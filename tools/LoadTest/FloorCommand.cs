using System.Buffers;
using System.Text;
using CioSegment.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CioSegment.LoadTest;

/// <summary>
/// <c>floor --port P --key K</c>: the least a webhook endpoint can do, as its own process — Kestrel reads the
/// body, checks the Customer.io signature (the same <see cref="WebhookSignature"/> the ingest uses) and answers
/// 200 (401 for a bad signature). The <c>cpu</c> command sends it the same requests as the ingest, so the
/// ingest's CPU per webhook can be read against this floor.
/// </summary>
internal static class FloorCommand
{
    public static async Task<int> RunAsync(int port, string key, CancellationToken cancel)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var secret = Encoding.UTF8.GetBytes(key);
        app.MapPost("/webhooks/customerio/{source}", async (HttpContext context) =>
        {
            var length = (int)(context.Request.ContentLength ?? 0);
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1024));
            try
            {
                var read = 0;
                int n;
                while ((n = await context.Request.Body.ReadAsync(buffer.AsMemory(read))) > 0)
                {
                    read += n;
                    if (read == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, read).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                }

                var valid = WebhookSignature.Verify(secret, context.Request.Headers[WebhookSignature.TimestampHeader].ToString(), buffer.AsSpan(0, read), context.Request.Headers[WebhookSignature.SignatureHeader].ToString());
                context.Response.StatusCode = valid ? 200 : 401;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        });
        await app.StartAsync(cancel);
        Console.WriteLine($"floor listening on http://127.0.0.1:{port}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancel);
        }
        catch (OperationCanceledException)
        {
        }

        await app.StopAsync(CancellationToken.None);
        return 0;
    }
}
