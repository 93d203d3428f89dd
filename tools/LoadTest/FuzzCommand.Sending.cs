using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CioSegment.Contracts;

namespace CioSegment.LoadTest;

/// <summary>The fuzz run: sending a request (HTTP, or a slow raw-TCP client) and recording its outcome.</summary>
internal static partial class FuzzCommand
{
    private sealed partial class FuzzRun
    {

        private async Task SendAsync(Case @case, long index, Random rng, CancellationToken cancel)
        {
            if (@case.Request is not null)
            {
                await SendHttpAsync(@case, index, cancel);
            }
            else
            {
                await SlowClientAsync(@case, index, rng, cancel);
            }
        }

        private async Task<string> SendHttpAsync(Case @case, long index, CancellationToken cancel)
        {
            using var request = @case.Request!;
            if (request.RequestUri is not { IsAbsoluteUri: true, Host: "127.0.0.1" } uri || uri.Port != _base.Port)
            {
                throw new InvalidOperationException("Refusing to send anywhere but the DevHost on 127.0.0.1: " + request.RequestUri);
            }

            var kind = Name(@case.Category) + ":" + @case.Variant;
            _inFlight[index] = kind;
            Interlocked.Increment(ref _sent);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(RequestTimeout);
            string outcome;
            string? detail = null;
            try
            {
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
                var status = (int)response.StatusCode;
                outcome = status.ToString(CultureInfo.InvariantCulture);
                if (status >= 500)
                {
                    var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                    detail = $"{request.Method} {uri.PathAndQuery[..Math.Min(uri.PathAndQuery.Length, 120)]}, body {request.Content?.Headers.ContentLength?.ToString(CultureInfo.InvariantCulture) ?? "chunked/none"} bytes; answer: {text[..Math.Min(text.Length, 300)]}";
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                outcome = "timeout";
                detail = $"no answer within {RequestTimeout.TotalSeconds:F0} s";
            }
            catch (OperationCanceledException)
            {
                outcome = "cancelled";
            }
            catch (HttpRequestException e)
            {
                outcome = "transport error";
                detail = e.InnerException is { } inner ? $"{e.Message} ({inner.GetType().Name}: {inner.Message})" : e.Message;
            }
            catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException or FormatException)
            {
                // HttpClient refused to send it: a limit of this harness, not an answer of the service.
                Interlocked.Decrement(ref _sent);
                _harnessErrors.Enqueue($"{kind}: HttpClient refused: {e.GetType().Name}: {e.Message}");
                outcome = "harness: client refused";
            }
            finally
            {
                _inFlight.TryRemove(index, out _);
            }

            Record(@case, outcome, detail);
            return outcome;
        }

        private void Record(Case @case, string outcome, string? detail)
        {
            _byOutcome.AddOrUpdate(outcome, 1, (_, n) => n + 1);
            _byCategory.AddOrUpdate((@case.Category, outcome), 1, (_, n) => n + 1);
            _byVariant.AddOrUpdate((Name(@case.Category) + ":" + @case.Variant, outcome), 1, (_, n) => n + 1);
            var is5xx = outcome.Length == 3 && outcome[0] == '5';
            if (is5xx)
            {
                Interlocked.Increment(ref _fiveXx);
            }

            if ((is5xx || outcome is "timeout") && Interlocked.Increment(ref _findingCount) <= 40)
            {
                _findings.Enqueue(new Finding(Name(@case.Category) + ":" + @case.Variant, outcome, detail ?? "", _devHost.Output.Count, _clock.Elapsed));
            }
        }

        // ---------------------------------------------------------------- slow raw-TCP clients

        private static readonly string[] SlowVariants =
        [
            "stall-then-abort",        // headers + a third of the body, stall, RST
            "trickle-then-abort",      // a byte every 100 ms, then RST
            "trickle-complete",        // the whole signed body in small pieces over ~2 s, read the answer
            "headers-stall-abort",     // half the header block, stall, RST
            "chunked-stall-abort",     // Transfer-Encoding: chunked, one chunk, stall, RST
            "declared-100k-send-none", // Content-Length 100000, no body: wait for the server to give up (≤ 9 s)
            "declared-2mb-no-body",    // Content-Length over the limit: the answer should come without the body
            "chunked-oversize-trickle", // chunked, 64 KB pieces past 1 MiB, read the answer
        ];

        private static Case SlowCase(int n)
        {
            var variant = n % SlowVariants.Length;
            return new Case(Category.SlowClient, SlowVariants[variant], null, variant);
        }

        private async Task SlowClientAsync(Case @case, long index, Random rng, CancellationToken cancel)
        {
            var kind = Name(@case.Category) + ":" + @case.Variant;
            _inFlight[index] = kind;
            Interlocked.Increment(ref _sent);
            string outcome;
            string? detail = null;
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            limit.CancelAfter(TimeSpan.FromSeconds(15));
            var token = limit.Token;
            using var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true, SendTimeout = 5000, ReceiveTimeout = 5000 };
            try
            {
                await tcp.ConnectAsync(IPAddress.Loopback, _base.Port, token);
                var stream = tcp.GetStream();
                var body = _webhooks.Body(2_000_000 + index);
                var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
                var signature = WebhookSignature.Sign(_key, timestamp, body);
                string Head(string framing) =>
                    $"POST /webhooks/customerio/{Source} HTTP/1.1\r\nHost: 127.0.0.1:{_base.Port.ToString(CultureInfo.InvariantCulture)}\r\n"
                    + $"Content-Type: application/json\r\n{WebhookSignature.TimestampHeader}: {timestamp}\r\n"
                    + $"{WebhookSignature.SignatureHeader}: {signature}\r\n{framing}\r\nConnection: close\r\n\r\n";

                switch (@case.SlowVariant)
                {
                    case 0:
                        await Write(stream, Head("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture)), token);
                        await stream.WriteAsync(body.AsMemory(0, body.Length / 3), token);
                        await Task.Delay(TimeSpan.FromSeconds(2 + rng.Next(3)), token);
                        outcome = Abort(tcp);
                        break;
                    case 1:
                        await Write(stream, Head("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture)), token);
                        for (var i = 0; i < 30 && i < body.Length; i++)
                        {
                            await stream.WriteAsync(body.AsMemory(i, 1), token);
                            await Task.Delay(100, token);
                        }

                        outcome = Abort(tcp);
                        break;
                    case 2:
                    {
                        await Write(stream, Head("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture)), token);
                        var piece = Math.Max(1, body.Length / 20);
                        for (var o = 0; o < body.Length; o += piece)
                        {
                            await stream.WriteAsync(body.AsMemory(o, Math.Min(piece, body.Length - o)), token);
                            await Task.Delay(100, token);
                        }

                        (outcome, detail) = await ReadStatusAsync(stream, TimeSpan.FromSeconds(8), token);
                        break;
                    }

                    case 3:
                    {
                        var head = Encoding.ASCII.GetBytes(Head("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture)));
                        await stream.WriteAsync(head.AsMemory(0, head.Length / 2), token);
                        await Task.Delay(TimeSpan.FromSeconds(3), token);
                        outcome = Abort(tcp);
                        break;
                    }

                    case 4:
                        await Write(stream, Head("Transfer-Encoding: chunked"), token);
                        await Write(stream, $"{(body.Length / 2).ToString("x", CultureInfo.InvariantCulture)}\r\n", token);
                        await stream.WriteAsync(body.AsMemory(0, body.Length / 2), token);
                        await Write(stream, "\r\n", token);
                        await Task.Delay(TimeSpan.FromSeconds(3), token);
                        outcome = Abort(tcp);
                        break;
                    case 5:
                        await Write(stream, Head("Content-Length: 100000"), token);
                        (outcome, detail) = await ReadStatusAsync(stream, TimeSpan.FromSeconds(9), token);
                        if (outcome == "no answer")
                        {
                            outcome = Abort(tcp);
                        }

                        break;
                    case 6:
                        await Write(stream, Head("Content-Length: 2000000"), token);
                        (outcome, detail) = await ReadStatusAsync(stream, TimeSpan.FromSeconds(8), token);
                        break;
                    default:
                    {
                        await Write(stream, Head("Transfer-Encoding: chunked"), token);
                        var chunk = new byte[64 * 1024];
                        chunk.AsSpan().Fill((byte)' ');
                        try
                        {
                            for (var sent = 0; sent <= MaxBodyBytes + chunk.Length && !token.IsCancellationRequested; sent += chunk.Length)
                            {
                                await Write(stream, $"{chunk.Length.ToString("x", CultureInfo.InvariantCulture)}\r\n", token);
                                await stream.WriteAsync(chunk, token);
                                await Write(stream, "\r\n", token);
                                await Task.Delay(20, token);
                            }

                            await Write(stream, "0\r\n\r\n", token);
                        }
                        catch (IOException)
                        {
                            // The server may stop reading once it has answered 413; its answer is still to be read.
                        }

                        (outcome, detail) = await ReadStatusAsync(stream, TimeSpan.FromSeconds(8), token);
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                outcome = "slow: gave up (15 s)";
                Abort(tcp);
            }
            catch (OperationCanceledException)
            {
                outcome = "cancelled";
                Abort(tcp);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                // The server closed or reset the connection under us (for example, after answering 413).
                outcome = "slow: closed by server";
                detail = e.Message;
            }
            finally
            {
                _inFlight.TryRemove(index, out _);
            }

            Record(@case, outcome, detail);
        }

        private static Task Write(NetworkStream stream, string text, CancellationToken token) =>
            stream.WriteAsync(Encoding.ASCII.GetBytes(text), token).AsTask();

        /// <summary>RST instead of FIN: the server sees the client vanish.</summary>
        private static string Abort(TcpClient tcp)
        {
            try
            {
                tcp.Client.LingerState = new LingerOption(true, 0);
                tcp.Client.Close();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            return "slow: aborted by client";
        }

        /// <summary>Reads the status line of an answer; "no answer" after <paramref name="wait"/>.</summary>
        private static async Task<(string Outcome, string? Detail)> ReadStatusAsync(NetworkStream stream, TimeSpan wait, CancellationToken token)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(wait);
            var buffer = new byte[4096];
            var filled = 0;
            try
            {
                while (filled < buffer.Length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(filled), timeout.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    filled += n;
                    var text = Encoding.ASCII.GetString(buffer, 0, filled);
                    var eol = text.IndexOf("\r\n", StringComparison.Ordinal);
                    if (eol >= 0)
                    {
                        var parts = text[..eol].Split(' ');
                        if (parts.Length >= 2 && parts[1].Length == 3 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
                        {
                            return (status.ToString(CultureInfo.InvariantCulture), status >= 500 ? text[..Math.Min(text.Length, 400)] : null);
                        }

                        return ("slow: garbled answer", text[..eol]);
                    }
                }
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                return ("no answer", null);
            }

            return (filled == 0 ? "slow: closed by server" : "slow: garbled answer", null);
        }
    }
}
