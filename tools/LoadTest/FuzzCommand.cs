using CioSegment.DevDoubles.Segment;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CioSegment.Contracts;

namespace CioSegment.LoadTest;

/// <summary>
/// Starts a DevHost (broker + ingest + processor) wired to a loopback stand-in Segment and sends it a
/// deterministic, seeded mix of hostile requests on 127.0.0.1 only: random bytes, truncated and mutated
/// webhooks, deep nesting, huge and oversize bodies (with and without Content-Length), wrong JSON types,
/// invalid UTF-8, escaped lone surrogates, bad signatures and timestamps, unknown sources and path junk,
/// wrong methods, header junk and a few slow raw-TCP clients. Most hostile bodies are correctly signed so
/// that they get past the signature check into parsing (and, when accepted, through the processor).
/// Counts answers by status, any 5xx, and crashes (the process exited, or stopped answering
/// <c>GET /health/live</c> between rounds), then checks that valid webhooks are still accepted.
/// </summary>
internal static partial class FuzzCommand
{
    private const int Seed = 0x5EED_F022;
    private const string Source = "fuzz";
    private const string SigningKey = "fuzz-signing-key-3d1c";
    private const int Concurrency = 32;
    private const int MaxBodyBytes = 1024 * 1024;
    private const int FinalValid = 50;

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FuzzBudget = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(int requests, CancellationToken cancel)
    {
        requests = Math.Max(0, requests);
        await using var segment = await SegmentStandIn.StartAsync();
        using var devHost = ServiceProcess.Start(
            "devhost",
            "CioSegment.DevHost.dll",
            "--urls", "http://127.0.0.1:0",
            "--CioSegment:DevHost:TailTopics=false",
            $"--CioSegment:Sources:{Source}:WebhookSigningKey={SigningKey}",
            $"--CioSegment:Sources:{Source}:WriteKey=fuzz-write",
            $"--CioSegment:Sources:{Source}:SegmentEndpoint={segment.Url}");

        Uri baseUri;
        try
        {
            var curl = await devHost.WaitForLineAsync(l => l.StartsWith("curl ", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
            baseUri = BaseAddress(curl);
        }
        catch (Exception e) when (e is TimeoutException or FormatException)
        {
            Console.Error.WriteLine("fuzz: the DevHost did not start: " + e.Message);
            devHost.Stop(TimeSpan.FromSeconds(10));
            Console.WriteLine("fuzz: 0 requests, 5xx 0, crashes 1");
            return 1;
        }

        var run = new FuzzRun(baseUri, devHost);
        var exitCode = await run.ExecuteAsync(requests, cancel);
        var delivery = devHost.HasExited || cancel.IsCancellationRequested ? "delivery not checked" : await run.DeliveryAsync(segment, TimeSpan.FromSeconds(20));
        var stopping = Stopwatch.StartNew();
        var exitedBefore = devHost.HasExited;
        devHost.Stop(TimeSpan.FromSeconds(10));
        var stopped = exitedBefore ? "had already exited" : stopping.Elapsed < TimeSpan.FromSeconds(10) ? $"stopped on SIGTERM in {stopping.Elapsed.TotalSeconds:F1} s" : "did not stop within 10 s of SIGTERM and was killed";
        run.Report(segment);
        Console.WriteLine("end to end (information): " + delivery);
        Console.WriteLine($"devhost {stopped}, exit code {devHost.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
        Console.WriteLine($"peak memory: devhost (broker + ingest + processor) {devHost.PeakMemoryMb:F0} MB");
        Console.WriteLine($"fuzz: {run.Sent} requests, 5xx {run.FiveXx}, crashes {run.Crashes}");
        return exitCode;
    }

    /// <summary>The <c>http://127.0.0.1:PORT</c> of the DevHost's printed curl line; anything but 127.0.0.1 is refused.</summary>
    private static Uri BaseAddress(string curl)
    {
        var start = curl.IndexOf("'http://", StringComparison.Ordinal);
        var end = start < 0 ? -1 : curl.IndexOf("/webhooks/", start, StringComparison.Ordinal);
        if (start < 0 || end < 0)
        {
            throw new FormatException("No base address in the DevHost's curl line: " + curl);
        }

        var text = curl[(start + 1)..end];
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.Host != "127.0.0.1" || uri.Port <= 0)
        {
            throw new FormatException("Refusing to fuzz anything but http://127.0.0.1:PORT: " + text);
        }

        return uri;
    }

    private enum Category
    {
        RandomBytes,
        Truncated,
        Mutated,
        DeepNesting,
        Huge,
        Oversize,
        WrongType,
        InvalidUtf8,
        LoneSurrogate,
        BadSignature,
        UnknownSource,
        PathJunk,
        WrongMethod,
        HeaderJunk,
        Valid,
        SlowClient,
        FinalValid,
    }

    /// <summary>Relative frequency (per mille) of each kind of HTTP request in the mix; slow clients are scheduled apart.</summary>
    private static readonly (Category Category, int Weight)[] Mix =
    [
        (Category.RandomBytes, 100),
        (Category.Truncated, 100),
        (Category.Mutated, 150),
        (Category.DeepNesting, 35),
        (Category.Huge, 8),
        (Category.Oversize, 8),
        (Category.WrongType, 180),
        (Category.InvalidUtf8, 60),
        (Category.LoneSurrogate, 70),
        (Category.BadSignature, 100),
        (Category.UnknownSource, 40),
        (Category.PathJunk, 45),
        (Category.WrongMethod, 40),
        (Category.HeaderJunk, 34),
        (Category.Valid, 30),
    ];

    private static readonly int MixTotal = Mix.Sum(m => m.Weight);

    private static string Name(Category c) => c switch
    {
        Category.RandomBytes => "random-bytes",
        Category.Truncated => "truncated-json",
        Category.Mutated => "mutated-json",
        Category.DeepNesting => "deep-nesting",
        Category.Huge => "huge-string",
        Category.Oversize => "oversize-body",
        Category.WrongType => "wrong-type",
        Category.InvalidUtf8 => "invalid-utf8",
        Category.LoneSurrogate => "lone-surrogate",
        Category.BadSignature => "bad-signature",
        Category.UnknownSource => "unknown-source",
        Category.PathJunk => "path-junk",
        Category.WrongMethod => "wrong-method",
        Category.HeaderJunk => "header-junk",
        Category.Valid => "valid",
        Category.SlowClient => "slow-client",
        Category.FinalValid => "valid-after-fuzz",
        _ => c.ToString(),
    };

    /// <summary>One request to send: plain HTTP (a message) or a slow raw-TCP client (a variant number).</summary>
    private sealed record Case(Category Category, string Variant, HttpRequestMessage? Request, int SlowVariant = -1);

    private sealed record Finding(string Kind, string Outcome, string Detail, int OutputIndex, TimeSpan At);

    private sealed partial class FuzzRun
    {
        private readonly Uri _base;
        private readonly string _authority;
        private readonly ServiceProcess _devHost;
        private readonly byte[] _key = Encoding.UTF8.GetBytes(SigningKey);
        private readonly Webhooks _webhooks;
        private readonly HttpClient _http;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        private readonly ConcurrentDictionary<string, long> _byOutcome = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<(Category, string), long> _byCategory = new();
        private readonly ConcurrentDictionary<(string Variant, string Outcome), long> _byVariant = new();
        private readonly ConcurrentQueue<Finding> _findings = new();
        private readonly ConcurrentQueue<string> _crashNotes = new();
        private readonly ConcurrentQueue<string> _harnessErrors = new();
        private readonly ConcurrentDictionary<long, string> _inFlight = new();
        private readonly List<string> _rounds = [];
        private long _sent;
        private long _fiveXx;
        private long _crashes;
        private long _findingCount;
        private long _validAccepted;
        private int _exitSeen;
        private bool _timeBudgetHit;

        public FuzzRun(Uri baseUri, ServiceProcess devHost)
        {
            _base = baseUri;
            _authority = $"http://127.0.0.1:{baseUri.Port.ToString(CultureInfo.InvariantCulture)}";
            _devHost = devHost;
            _webhooks = new Webhooks("fuzz" + DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), SigningKey);
            _http = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                UseCookies = false,
                MaxConnectionsPerServer = Concurrency * 2,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                // Lets junk header values with bytes >= 0x80 go out as they are (the server should answer 400).
                RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
            })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            };
        }

        public long Sent => Interlocked.Read(ref _sent);

        public long FiveXx => Interlocked.Read(ref _fiveXx);

        public long Crashes => Interlocked.Read(ref _crashes);

        public async Task<int> ExecuteAsync(int requests, CancellationToken cancel)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            stop.CancelAfter(FuzzBudget);
            var watcher = Task.Run(() => WatchAsync(stop), CancellationToken.None);

            if (!await HealthyAsync("before fuzzing", cancel))
            {
                await stop.CancelAsync();
                await watcher;
                return 1;
            }

            // A few slow raw-TCP clients, spread evenly over the run; all other indices are HTTP requests.
            var slowCount = requests < 50 ? 0 : Math.Clamp(requests / 1000, 4, 24);
            var slowStride = slowCount == 0 ? int.MaxValue : requests / slowCount;
            var roundCount = Math.Clamp(requests / 2000, 1, 10);
            var perRound = (requests + roundCount - 1) / Math.Max(1, roundCount);
            Console.WriteLine($"fuzz: {requests} hostile requests ({slowCount} slow clients) to {_authority}, {Concurrency} at a time, {roundCount} round(s), seed {Seed}");

            for (var round = 0; round < roundCount && !stop.IsCancellationRequested; round++)
            {
                var from = round * perRound;
                var to = Math.Min(requests, from + perRound);
                var roundKinds = new ConcurrentDictionary<Category, int>();
                try
                {
                    await Parallel.ForEachAsync(
                        Enumerable.Range(from, Math.Max(0, to - from)),
                        new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = stop.Token },
                        async (index, token) =>
                        {
                            var rng = new Random(unchecked((Seed * 397) ^ (index * 7919)));
                            var isSlow = slowCount > 0 && index % slowStride == slowStride / 2 && index / slowStride < slowCount;
                            Case @case;
                            try
                            {
                                @case = isSlow ? SlowCase(index / slowStride) : Generate(rng, index);
                            }
                            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException or InvalidOperationException)
                            {
                                // A bug of this harness, not of the service: shown in the table, not sent.
                                _byOutcome.AddOrUpdate("harness: generator error", 1, (_, n) => n + 1);
                                _harnessErrors.Enqueue($"request {index}: {e.GetType().Name}: {e.Message}");
                                return;
                            }

                            roundKinds.AddOrUpdate(@case.Category, 1, (_, n) => n + 1);
                            await SendAsync(@case, index, rng, token);
                        });
                }
                catch (OperationCanceledException)
                {
                    // Time budget, Ctrl+C, or the DevHost exited: stop sending.
                }

                var label = $"round {round + 1}/{roundCount} (requests {from}..{to - 1})";
                var mix = string.Join(", ", roundKinds.OrderByDescending(k => k.Value).Select(k => $"{Name(k.Key)} {k.Value}"));
                lock (_rounds)
                {
                    _rounds.Add($"{label}: {mix}");
                }

                if (_devHost.HasExited)
                {
                    break;
                }

                if (!await HealthyAsync("after " + label + " [" + mix + "]", cancel))
                {
                    break;
                }

                Console.WriteLine($"  {label}: sent {Sent}, 5xx {FiveXx}, {_clock.Elapsed.TotalSeconds:F0} s");
            }

            _timeBudgetHit = stop.IsCancellationRequested && !cancel.IsCancellationRequested && !_devHost.HasExited;

            // The service must still work: valid signed webhooks get 200.
            if (!_devHost.HasExited && !cancel.IsCancellationRequested && Crashes == 0)
            {
                await FinalValidAsync(cancel);
                if (Interlocked.Read(ref _validAccepted) < FinalValid && !_devHost.HasExited)
                {
                    Interlocked.Increment(ref _crashes);
                    _crashNotes.Enqueue($"after fuzzing only {_validAccepted}/{FinalValid} valid signed webhooks were answered 200: the service no longer works");
                }

                await HealthyAsync("at the end", cancel);
            }

            await stop.CancelAsync();
            await watcher;
            _http.Dispose();
            return FiveXx == 0 && Crashes == 0 ? 0 : 1;
        }

        private async Task WatchAsync(CancellationTokenSource stop)
        {
            while (!stop.IsCancellationRequested)
            {
                if (_devHost.HasExited)
                {
                    NoteExit();
                    await stop.CancelAsync();
                    return;
                }

                _devHost.Sample();
                try
                {
                    await Task.Delay(100, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            if (_devHost.HasExited)
            {
                NoteExit();
            }
        }

        private void NoteExit()
        {
            if (Interlocked.Exchange(ref _exitSeen, 1) != 0)
            {
                return;
            }

            Interlocked.Increment(ref _crashes);
            var inFlight = string.Join(", ", _inFlight.Values.GroupBy(v => v, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"));
            _crashNotes.Enqueue($"the DevHost exited (code {_devHost.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "?"}) at {_clock.Elapsed.TotalSeconds:F1} s; in flight: [{inFlight}]");
        }

        private async Task<bool> HealthyAsync(string when, CancellationToken cancel)
        {
            string last = "";
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (_devHost.HasExited)
                {
                    NoteExit();
                    return false;
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, _authority + "/health/live");
                    using var response = await _http.SendAsync(request, timeout.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return true;
                    }

                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}";
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    last = "no answer within 5 s";
                }
                catch (OperationCanceledException)
                {
                    return true; // Ctrl+C: not a crash.
                }
                catch (HttpRequestException e)
                {
                    last = "transport error: " + e.Message;
                }

                await Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None);
            }

            if (_devHost.HasExited)
            {
                NoteExit();
                return false;
            }

            Interlocked.Increment(ref _crashes);
            _crashNotes.Enqueue($"GET /health/live failed {when}: {last} (output line {_devHost.Output.Count})");
            return false;
        }

        private async Task FinalValidAsync(CancellationToken cancel)
        {
            for (var i = 0; i < FinalValid && !cancel.IsCancellationRequested; i++)
            {
                var body = _webhooks.Body(1_000_000 + i);
                var request = _webhooks.Request(Source, body);
                request.RequestUri = new Uri(_authority + request.RequestUri!.OriginalString);
                var outcome = await SendHttpAsync(new Case(Category.FinalValid, "valid-after-fuzz", request), i, cancel);
                if (outcome == "200")
                {
                    Interlocked.Increment(ref _validAccepted);
                }
            }

            Console.WriteLine($"  valid after fuzzing: {_validAccepted}/{FinalValid} answered 200");
        }

        /// <summary>Information only: whether the valid webhooks sent after fuzzing reach the stand-in Segment.</summary>
        public async Task<string> DeliveryAsync(SegmentStandIn segment, TimeSpan wait)
        {
            var ids = Enumerable.Range(0, FinalValid).Select(i => "cio-" + _webhooks.EventId(1_000_000 + i)).ToList();
            var clock = Stopwatch.StartNew();
            var delivered = 0;
            while (!_devHost.HasExited && clock.Elapsed < wait)
            {
                delivered = ids.Count(segment.Stored.ContainsKey);
                if (delivered == ids.Count)
                {
                    break;
                }

                await Task.Delay(250);
            }

            return $"{delivered}/{ids.Count} of the valid webhooks sent after fuzzing reached the stand-in Segment within {clock.Elapsed.TotalSeconds:F0} s";
        }

        /// <summary>Status table, per-kind table, every 5xx / timeout / crash with the DevHost output around it, DevHost errors.</summary>
        public void Report(SegmentStandIn segment)
        {
            var output = _devHost.Output.ToArray();
            Console.WriteLine();
            Console.WriteLine("answers (all requests, by status or outcome):");
            foreach (var (outcome, count) in _byOutcome.OrderBy(kv => kv.Key.Length == 3 ? 0 : 1).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            {
                Console.WriteLine($"  {outcome,-28} {count,7}");
            }

            Console.WriteLine();
            Console.WriteLine($"  {"kind",-18} {"sent",7} {"2xx",6} {"4xx",6} {"5xx",5} {"other",6}   (other = transport error / timeout / slow-client outcome)");
            foreach (var category in Enum.GetValues<Category>())
            {
                var rows = _byCategory.Where(kv => kv.Key.Item1 == category).ToList();
                if (rows.Count == 0)
                {
                    continue;
                }

                long Sum(Func<string, bool> match) => rows.Where(kv => match(kv.Key.Item2)).Sum(kv => kv.Value);
                static bool Status(string o, char first) => o.Length == 3 && o[0] == first && char.IsAsciiDigit(o[1]);
                Console.WriteLine($"  {Name(category),-18} {Sum(_ => true),7} {Sum(o => Status(o, '2')),6} {Sum(o => Status(o, '4')),6} {Sum(o => Status(o, '5')),5} {Sum(o => !(Status(o, '2') || Status(o, '4') || Status(o, '5'))),6}");
            }

            var notable = _byVariant
                .Where(kv => kv.Key.Outcome is "timeout" or "transport error" or "slow: garbled answer" || (kv.Key.Outcome.Length == 3 && kv.Key.Outcome[0] == '5'))
                .OrderBy(kv => kv.Key.Variant, StringComparer.Ordinal).ToList();
            if (notable.Count > 0)
            {
                Console.WriteLine();
                Console.WriteLine("request kinds with 5xx, timeouts or transport errors:");
                foreach (var ((variant, outcome), count) in notable)
                {
                    Console.WriteLine($"  {variant}: {outcome} x{count}");
                }
            }

            var slow = _byVariant.Where(kv => kv.Key.Variant.StartsWith("slow-client:", StringComparison.Ordinal)).OrderBy(kv => kv.Key.Variant, StringComparer.Ordinal).ToList();
            if (slow.Count > 0)
            {
                Console.WriteLine();
                Console.WriteLine("slow clients: " + string.Join("; ", slow.Select(kv => $"{kv.Key.Variant["slow-client:".Length..]} -> {kv.Key.Outcome} x{kv.Value}")));
            }

            foreach (var group in _findings.GroupBy(f => (f.Kind, f.Outcome)).Take(12))
            {
                var finding = group.First();
                Console.WriteLine();
                Console.WriteLine($"FINDING {finding.Outcome} for {finding.Kind} (x{group.Count()} recorded, first at {finding.At.TotalSeconds:F1} s): {finding.Detail}");
                Console.WriteLine("  DevHost output around it:");
                PrintOutput(output, finding.OutputIndex - 4, finding.OutputIndex + 8);
            }

            foreach (var note in _crashNotes)
            {
                Console.WriteLine();
                Console.WriteLine("CRASH: " + note);
                Console.WriteLine("  last DevHost output:");
                PrintOutput(output, output.Length - 40, output.Length);
            }

            if (_crashNotes.Any(n => n.StartsWith("the DevHost exited", StringComparison.Ordinal) || n.StartsWith("GET /health", StringComparison.Ordinal)))
            {
                Console.WriteLine("  rounds sent:");
                lock (_rounds)
                {
                    foreach (var round in _rounds)
                    {
                        Console.WriteLine("    " + round);
                    }
                }
            }

            // What the DevHost itself logged at error level (its log level is Warning, so fail/crit lines are all real).
            var errors = Enumerable.Range(0, output.Length).Where(i => output[i].StartsWith("fail:", StringComparison.Ordinal) || output[i].StartsWith("crit:", StringComparison.Ordinal) || output[i].StartsWith("Unhandled exception", StringComparison.Ordinal)).ToList();
            var warnings = output.Count(l => l.StartsWith("warn:", StringComparison.Ordinal));
            Console.WriteLine();
            Console.WriteLine($"devhost log: {output.Length} lines, {warnings} warnings, {errors.Count} errors (fail/crit/unhandled)");
            foreach (var group in errors.GroupBy(i => Digits().Replace(output[i] + " " + (i + 2 < output.Length ? output[i + 2].Trim() : ""), "#")).Take(6))
            {
                Console.WriteLine($"  {group.Count()} x {output[group.First()]}; first one:");
                PrintOutput(output, group.First(), group.First() + 12);
            }

            if (warnings > 0)
            {
                var kinds = Enumerable.Range(0, output.Length - 1)
                    .Where(i => output[i].StartsWith("warn:", StringComparison.Ordinal))
                    .GroupBy(i => output[i] + " " + Shorten(Digits().Replace(output[i + 1].Trim(), "#"), 110))
                    .OrderByDescending(g => g.Count()).Take(6);
                foreach (var group in kinds)
                {
                    Console.WriteLine($"  {group.Count()} x {group.Key}");
                }
            }

            foreach (var error in _harnessErrors.Take(5))
            {
                Console.WriteLine("harness (not the service): " + error);
            }

            if (_timeBudgetHit)
            {
                Console.WriteLine($"note: stopped at the {FuzzBudget.TotalMinutes:F0} min time budget before all requests were sent");
            }

            Console.WriteLine($"segment stand-in: {segment.Batches} batches, {segment.Events} events");
            try
            {
                var path = Path.Combine(Path.GetTempPath(), $"cio-fuzz-devhost-{_devHost.Id.ToString(CultureInfo.InvariantCulture)}.log");
                File.WriteAllLines(path, output);
                Console.WriteLine("full devhost output: " + path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        private static readonly System.Text.RegularExpressions.Regex DigitRuns = new("[0-9]+(\\.[0-9]+)?", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        private static System.Text.RegularExpressions.Regex Digits() => DigitRuns;

        private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "…";

        private static void PrintOutput(string[] output, int from, int to)
        {
            for (var i = Math.Max(0, from); i < Math.Min(output.Length, to); i++)
            {
                Console.WriteLine("    | " + Shorten(output[i], 300));
            }
        }
    }

    /// <summary>A body sent with Transfer-Encoding: chunked (no Content-Length), in pieces of <paramref name="piece"/> bytes.</summary>
    private sealed class ChunkedContent(byte[] data, int piece) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            for (var offset = 0; offset < data.Length; offset += piece)
            {
                await stream.WriteAsync(data.AsMemory(offset, Math.Min(piece, data.Length - offset)), cancellationToken);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
