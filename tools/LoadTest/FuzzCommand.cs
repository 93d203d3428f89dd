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
internal static class FuzzCommand
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
        await using var segment = await StandInSegment.StartAsync();
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

    private sealed class FuzzRun
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
        public async Task<string> DeliveryAsync(StandInSegment segment, TimeSpan wait)
        {
            var ids = Enumerable.Range(0, FinalValid).Select(i => "cio-" + _webhooks.EventId(1_000_000 + i)).ToList();
            var clock = Stopwatch.StartNew();
            var delivered = 0;
            while (!_devHost.HasExited && clock.Elapsed < wait)
            {
                delivered = ids.Count(segment.Received.ContainsKey);
                if (delivered == ids.Count)
                {
                    break;
                }

                await Task.Delay(250);
            }

            return $"{delivered}/{ids.Count} of the valid webhooks sent after fuzzing reached the stand-in Segment within {clock.Elapsed.TotalSeconds:F0} s";
        }

        /// <summary>Status table, per-kind table, every 5xx / timeout / crash with the DevHost output around it, DevHost errors.</summary>
        public void Report(StandInSegment segment)
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

            Console.WriteLine($"segment stand-in: {segment.Batches} batches, {segment.BatchEvents} events");
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

        // ---------------------------------------------------------------- sending

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

        // ---------------------------------------------------------------- generating requests

        private Case Generate(Random rng, long index)
        {
            var roll = rng.Next(MixTotal);
            var category = Mix[^1].Category;
            foreach (var (c, weight) in Mix)
            {
                if (roll < weight)
                {
                    category = c;
                    break;
                }

                roll -= weight;
            }

            return category switch
            {
                Category.RandomBytes => RandomBytes(rng),
                Category.Truncated => Truncated(rng, index),
                Category.Mutated => Mutated(rng, index),
                Category.DeepNesting => DeepNesting(rng),
                Category.Huge => Huge(rng, index),
                Category.Oversize => Oversize(rng),
                Category.WrongType => WrongType(rng, index),
                Category.InvalidUtf8 => InvalidUtf8(rng, index),
                Category.LoneSurrogate => LoneSurrogate(rng, index),
                Category.BadSignature => BadSignature(rng, index),
                Category.UnknownSource => UnknownSource(rng, index),
                Category.PathJunk => PathJunk(rng, index),
                Category.WrongMethod => WrongMethod(rng, index),
                Category.HeaderJunk => HeaderJunk(rng, index),
                _ => new Case(Category.Valid, "signed", Post(_webhooks.Body(index), rng)),
            };
        }

        private Uri Url(string path) => new(_authority + path);

        /// <summary>POST to <paramref name="path"/>, correctly signed unless <paramref name="signed"/> is false.</summary>
        private HttpRequestMessage Post(byte[] body, Random rng, bool signed = true, string? path = null, bool chunked = false, HttpMethod? method = null)
        {
            var request = new HttpRequestMessage(method ?? HttpMethod.Post, Url(path ?? $"/webhooks/customerio/{Source}"))
            {
                Content = chunked ? new ChunkedContent(body, 1 + rng.Next(64 * 1024)) : new ByteArrayContent(body),
            };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            if (signed)
            {
                var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
                request.Headers.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp);
                request.Headers.TryAddWithoutValidation(WebhookSignature.SignatureHeader, WebhookSignature.Sign(_key, timestamp, body));
            }

            return request;
        }

        private Case RandomBytes(Random rng)
        {
            var shape = rng.Next(6);
            var length = shape switch
            {
                0 => rng.Next(0, 2),
                1 => rng.Next(1, 64),
                2 => rng.Next(64, 4096),
                3 => rng.Next(4096, 65536),
                _ => rng.Next(1, 2048),
            };
            var body = new byte[length];
            string variant;
            if (shape == 4)
            {
                // JSON-ish token soup: much more likely than noise to get deep into the reader.
                const string alphabet = "{}[]\":,0123456789.eE+-tfnrulas \\/u\n";
                for (var i = 0; i < body.Length; i++)
                {
                    body[i] = (byte)alphabet[rng.Next(alphabet.Length)];
                }

                variant = "json-soup";
            }
            else if (shape == 5)
            {
                for (var i = 0; i < body.Length; i++)
                {
                    body[i] = (byte)rng.Next(0x20, 0x7F);
                }

                variant = "printable";
            }
            else
            {
                rng.NextBytes(body);
                variant = length switch { < 2 => "empty-or-1", < 64 => "small", < 4096 => "medium", _ => "large" };
            }

            var signed = rng.Next(10) < 8;
            return new Case(Category.RandomBytes, variant + (signed ? "" : "-unsigned"), Post(body, rng, signed));
        }

        private Case Truncated(Random rng, long index)
        {
            var valid = _webhooks.Body(index);
            var cut = rng.Next(4) == 0 ? rng.Next(0, 8) : rng.Next(0, valid.Length);
            return new Case(Category.Truncated, rng.Next(2) == 0 ? "prefix" : "prefix-ws", Post(rng.Next(2) == 0 ? valid[..cut] : [.. valid[..cut], .. " \n\t"u8.ToArray()], rng));
        }

        private Case Mutated(Random rng, long index)
        {
            var body = new List<byte>(_webhooks.Body(index));
            var count = 1 + rng.Next(8);
            const string significant = "{}[]\":,\\ 0-.eE+tfnu\u0000";
            for (var m = 0; m < count && body.Count > 0; m++)
            {
                var at = rng.Next(body.Count);
                switch (rng.Next(7))
                {
                    case 0:
                        body[at] ^= (byte)(1 << rng.Next(8));
                        break;
                    case 1:
                        body[at] = (byte)significant[rng.Next(significant.Length)];
                        break;
                    case 2:
                        body.RemoveRange(at, Math.Min(body.Count - at, 1 + rng.Next(16)));
                        break;
                    case 3:
                    {
                        var len = Math.Min(body.Count - at, 1 + rng.Next(64));
                        body.InsertRange(rng.Next(body.Count), body.GetRange(at, len));
                        break;
                    }

                    case 4:
                        body.Insert(at, (byte)significant[rng.Next(significant.Length)]);
                        break;
                    case 5:
                        body.Insert(at, (byte)rng.Next(256));
                        break;
                    default:
                        // Duplicate the whole object after itself, or a stray value after the root.
                        body.AddRange(rng.Next(2) == 0 ? [.. body] : "1"u8.ToArray());
                        break;
                }
            }

            return new Case(Category.Mutated, count <= 2 ? "1-2-edits" : "3-8-edits", Post([.. body], rng));
        }

        private Case DeepNesting(Random rng)
        {
            var depth = rng.Next(4) switch { 0 => 10_000, 1 => 100_000, 2 => 63 + rng.Next(4), _ => 1_000 + rng.Next(20_000) };
            var variant = rng.Next(6);
            var sb = new StringBuilder(depth * 8);
            string name;
            switch (variant)
            {
                case 0:
                    sb.Append('[', depth);
                    name = "open-brackets";
                    break;
                case 1:
                    sb.Append('[', depth).Append(']', depth);
                    name = "balanced-brackets";
                    break;
                case 2:
                    sb.Append("{\"data\":").Append('[', depth).Append(']', depth).Append(",\"event_id\":\"deep\",\"object_type\":\"email\",\"metric\":\"sent\"}");
                    name = "data-array";
                    break;
                case 3:
                    for (var i = 0; i < depth; i++)
                    {
                        sb.Append("{\"a\":");
                    }

                    sb.Append('1').Append('}', depth);
                    name = "objects";
                    break;
                case 4:
                    sb.Append("{\"event_id\":\"deep\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1700000000,\"data\":{\"identifiers\":{\"id\":");
                    for (var i = 0; i < depth; i++)
                    {
                        sb.Append("{\"id\":");
                    }

                    sb.Append("\"x\"").Append('}', depth).Append("}}}");
                    name = "identifiers-id";
                    break;
                default:
                    sb.Append("{\"event_id\":\"deep\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1700000000,\"data\":{\"recipients\":");
                    sb.Append('[', depth).Append("\"x\"").Append(']', depth).Append("}}");
                    name = "recipients";
                    break;
            }

            var bucket = depth switch { < 100 => "depth-64", < 10_000 => "depth-1k-20k", 10_000 => "depth-10k", _ => "depth-100k" };
            return new Case(Category.DeepNesting, name + "-" + bucket, Post(Encoding.ASCII.GetBytes(sb.ToString()), rng));
        }

        private Case Huge(Random rng, long index)
        {
            var big = new string('a', 900 * 1024);
            var person = $"huge-{index}";
            var variant = rng.Next(9);
            string json;
            string name;
            switch (variant)
            {
                case 0:
                    json = Envelope(index, ("data.subject", Quote(big)));
                    name = "subject-900k";
                    break;
                case 1:
                    json = Envelope(index, ("data.identifiers.id", Quote(big)));
                    name = "person-id-900k";
                    break;
                case 2:
                    json = Envelope(index, ("data.identifiers", "{}"), ("event_id", Quote(big)));
                    name = "event-id-900k";
                    break;
                case 3:
                    json = Envelope(index, ("data.unknown_member", Quote(big)), ("data.identifiers.id", Quote(person)));
                    name = "unknown-member-900k";
                    break;
                case 4:
                    json = new string(' ', 900 * 1024) + Envelope(index);
                    name = "whitespace-900k";
                    break;
                case 5:
                    json = Envelope(index, ("data.subject", Quote(string.Concat(Enumerable.Repeat("\\u0041", 150 * 1024)))));
                    name = "escapes-900k";
                    break;
                case 6:
                    json = Envelope(index, ("data.recipients", "[" + string.Join(',', Enumerable.Range(0, 150_000).Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]"));
                    name = "array-150k-items";
                    break;
                case 7:
                    // Just under the ingest's 1 MiB limit.
                    json = Envelope(index, ("data.subject", Quote("")));
                    json = json.Replace("\"subject\":\"\"", "\"subject\":\"" + new string('b', MaxBodyBytes - json.Length) + "\"", StringComparison.Ordinal);
                    name = "body-exactly-1mib";
                    break;
                default:
                    json = Envelope(index, ("data.failure_message", Quote(big)), ("data.identifiers.email", Quote(big[..(60 * 1024)] + "@example.com")));
                    name = "failure-900k-email-60k";
                    break;
            }

            var chunked = rng.Next(3) == 0;
            return new Case(Category.Huge, name + (chunked ? "-chunked" : ""), Post(Encoding.UTF8.GetBytes(json), rng, chunked: chunked));
        }

        private Case Oversize(Random rng)
        {
            var variant = rng.Next(4);
            var size = variant switch { 0 or 1 => 2 * 1024 * 1024, 2 => MaxBodyBytes + 1, _ => 8 * 1024 * 1024 };
            var body = new byte[size];
            body.AsSpan().Fill((byte)'a');
            "{\"data\":{\"subject\":\""u8.CopyTo(body);
            "\"}}"u8.CopyTo(body.AsSpan(size - 3));
            var chunked = variant is 1 or 3 || rng.Next(2) == 0;
            var name = (variant switch { 0 or 1 => "2mb", 2 => "1mib-plus-1", _ => "8mb" }) + (chunked ? "-chunked" : "-content-length");
            return new Case(Category.Oversize, name, Post(body, rng, signed: rng.Next(4) != 0, chunked: chunked));
        }

        private static readonly string[] WrongTypeTargets =
        [
            "event_id", "object_type", "metric", "timestamp", "data",
            "data.identifiers", "data.identifiers.id", "data.identifiers.email", "data.identifiers.cio_id",
            "data.customer_id", "data.email_address", "data.recipient", "data.recipients", "data.subject",
            "data.action_id", "data.campaign_id", "data.broadcast_id", "data.delivery_id", "data.journey_id",
            "data.href", "data.link_id", "data.content", "data.failure_message", "data.trigger_id",
            "data.newsletter_id", "data.transactional_message_id", "data.parent_action_id",
        ];

        private static readonly string[] WrongValues =
        [
            "null", "true", "false", "0", "-1", "1.5", "-0", "1e308", "-1e308", "1e999", "-1e-999", "1E+2",
            "123456789012345678901234567890123456789", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
            "253402300799", "253402300800", "253402300799.9999", "0.0004", "-62135596800",
            "\"\"", "\" \"", "\"x\"", "\"1700000000\"", "\"1.7e9\"", "\"2024-01-01T00:00:00Z\"", "\"NaN\"", "\"Infinity\"",
            "\"\\u0000\"", "\"\\ud800\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"emaIL\"", "\"EMAIL\"", "\"fax\"", "\"opened \"",
            "[]", "[1,\"a\",null,{}]", "{}", "{\"a\":{\"b\":[]}}", "{\"id\":\"x\"}", "[[[[[]]]]]",
            "<omit>", "<dup-null>", "<dup-object>",
        ];

        private Case WrongType(Random rng, long index)
        {
            // Every target meets every value over the run; the order is seeded.
            var target = WrongTypeTargets[rng.Next(WrongTypeTargets.Length)];
            var value = WrongValues[rng.Next(WrongValues.Length)];
            if (value == "\"x\"" && rng.Next(4) == 0)
            {
                value = Quote(new string('x', 10_000 + rng.Next(40_000)));
            }

            var json = Envelope(index, (target, value));
            var shortValue = value.Length > 24 ? value[..24] + "…" : value;
            return new Case(Category.WrongType, $"{target}={shortValue}", Post(Encoding.UTF8.GetBytes(json), rng));
        }

        private static readonly byte[][] BadUtf8 =
        [
            [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFE, 0xFF],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3], [0xE0, 0x80, 0x80], [0xEF, 0xBF, 0xBE],
        ];

        private Case InvalidUtf8(Random rng, long index)
        {
            var bad = BadUtf8[rng.Next(BadUtf8.Length)];
            var where = rng.Next(6);
            byte[] body;
            string name;
            if (where == 5)
            {
                // The whole body in UTF-16 with a BOM.
                body = [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(Envelope(index))];
                name = "utf16-body";
            }
            else
            {
                var marker = where switch { 0 => "@@SUBJ@@", 1 => "@@ID@@", 2 => "@@EVT@@", 3 => "@@NAME@@", _ => "" };
                var json = where switch
                {
                    0 => Envelope(index, ("data.subject", "\"a" + marker + "b\"")),
                    1 => Envelope(index, ("data.identifiers.id", "\"p" + marker + "\"")),
                    2 => Envelope(index, ("event_id", "\"" + marker + "\"")),
                    3 => Envelope(index, ("data.x" + marker, "1")),
                    _ => Envelope(index),
                };
                var utf8 = Encoding.UTF8.GetBytes(json);
                if (marker.Length == 0)
                {
                    body = [.. utf8, .. bad];
                    name = "after-root";
                }
                else
                {
                    var m = Encoding.ASCII.GetBytes(marker);
                    var at = utf8.AsSpan().IndexOf(m);
                    body = [.. utf8[..at], .. bad, .. utf8[(at + m.Length)..]];
                    name = where switch { 0 => "in-subject", 1 => "in-person-id", 2 => "in-event-id", _ => "in-member-name" };
                }
            }

            return new Case(Category.InvalidUtf8, name, Post(body, rng));
        }

        private static readonly string[] Surrogates =
        [
            "\\ud800", "\\udfff", "\\ud800\\u0041", "\\udfff\\ud800", "\\ud83d\\ude00", "\\ud83d", "a\\ude00b", "\\u0000",
            "\\uD800\\uD800", "\\uDBFF\\uDFFF", "\\u12", "\\x41", "\\ud800\\", "\\u", "\\uZZZZ",
        ];

        private static readonly string[] SurrogateTargets =
        [
            "event_id", "object_type", "metric", "timestamp", "data.identifiers.id", "data.identifiers.email",
            "data.identifiers.cio_id", "data.customer_id", "data.email_address", "data.recipient", "data.subject",
            "data.delivery_id", "data.href", "data.content", "<envelope-name>", "<data-name>", "<identifiers-name>",
        ];

        private Case LoneSurrogate(Random rng, long index)
        {
            var escape = Surrogates[rng.Next(Surrogates.Length)];
            var target = SurrogateTargets[rng.Next(SurrogateTargets.Length)];
            var json = target switch
            {
                // Escaped member names: "\ud800", and a lone surrogate next to an escaped real name.
                "<envelope-name>" => Envelope(index).Replace("\"metric\":", "\"m" + escape + "etric\":1,\"\\u006detric\":", StringComparison.Ordinal),
                "<data-name>" => Envelope(index).Replace("\"subject\":", "\"" + escape + "\":2,\"\\u0073ubject\":", StringComparison.Ordinal),
                "<identifiers-name>" => Envelope(index).Replace("\"id\":", "\"i" + escape + "\":3,\"\\u0069d\":", StringComparison.Ordinal),
                _ => Envelope(index, (target, "\"" + (rng.Next(2) == 0 ? escape : "p" + escape + "q") + "\"")),
            };
            return new Case(Category.LoneSurrogate, $"{target}={escape}", Post(Encoding.UTF8.GetBytes(json), rng));
        }

        private Case BadSignature(Random rng, long index)
        {
            var body = _webhooks.Body(index);
            var request = Post(body, rng, signed: false);
            var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
            var good = WebhookSignature.Sign(_key, timestamp, body);
            var h = request.Headers;
            var variant = rng.Next(24);
            void Both(string ts, string sig)
            {
                h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, ts);
                h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, sig);
            }

            string Hex(int chars)
            {
                const string digits = "0123456789abcdef";
                var c = new char[chars];
                for (var i = 0; i < chars; i++)
                {
                    c[i] = digits[rng.Next(16)];
                }

                return new string(c);
            }

            string name;
            switch (variant)
            {
                case 0: name = "none"; break;
                case 1: h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp); name = "timestamp-only"; break;
                case 2: h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, good); name = "signature-only"; break;
                case 3: Both(timestamp, ""); name = "empty-signature"; break;
                case 4: Both("", good); name = "empty-timestamp"; break;
                case 5: Both(timestamp, Hex(64)); name = "random-hex"; break;
                case 6: Both(timestamp, WebhookSignature.Sign(_key, timestamp, [.. body, (byte)' '])); name = "other-body"; break;
                case 7: Both(timestamp, WebhookSignature.Sign("wrong-key"u8, timestamp, body)); name = "wrong-key"; break;
                case 8: Both((long.Parse(timestamp, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture), good); name = "other-timestamp"; break;
                case 9: Both(timestamp, good.ToUpperInvariant()); name = "uppercase-hex(valid)"; break;
                case 10: Both(timestamp, "sha256=" + good); name = "sha256-prefix"; break;
                case 11: Both(timestamp, good[..63]); name = "63-chars"; break;
                case 12: Both(timestamp, good + "0"); name = "65-chars"; break;
                case 13: Both(timestamp, Hex(10_000)); name = "10k-hex"; break;
                case 14: Both(timestamp, "zz" + good[2..]); name = "non-hex"; break;
                case 15: Both(timestamp, "\u00e9\u00ff" + good[2..]); name = "latin1-bytes"; break;
                case 16: Both("abc", WebhookSignature.Sign(_key, "abc", body)); name = "timestamp-abc(signed)"; break;
                case 17:
                {
                    var ts = new string('9', 8_000);
                    Both(ts, WebhookSignature.Sign(_key, ts, body));
                    name = "timestamp-8k-digits(signed)";
                    break;
                }

                case 18: Both("-1", WebhookSignature.Sign(_key, "-1", body)); name = "timestamp-negative(signed)"; break;
                case 19:
                    h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp);
                    h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, [good, Hex(64)]);
                    name = "two-signatures";
                    break;
                case 20:
                    h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, [timestamp, "0"]);
                    h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, good);
                    name = "two-timestamps";
                    break;
                case 21: Both(timestamp, "  " + good + "\t"); name = "padded(valid)"; break;
                case 22: Both("\u00e9", WebhookSignature.Sign(_key, "\u00e9", body)); name = "timestamp-latin1"; break;
                default: Both(timestamp, good[..32] + new string('0', 32)); name = "half-right"; break;
            }

            return new Case(Category.BadSignature, name, request);
        }

        private Case UnknownSource(Random rng, long index)
        {
            string[] ids =
            [
                "unknown", "FUZZ", "Fuzz", "fuzz_", "fuzz-", "demo", "_", "-", "0", new string('f', 100), new string('f', 101),
                "fuzz%20", "%20fuzz", "fuzz%00", "fuzz%2F", "%66uzz", "f%C3%BCzz", "%E2%98%83", "%FF%FE", "%C0%AF", "%ED%A0%80",
                "fuzz;x=1", "fuzz%3Bx", "con", "nul", "%2e", "%2e%2e", "fuzz.", "fuzz%0D%0Ax-injected:%201",
            ];
            var id = ids[rng.Next(ids.Length)];
            var name = id.Length > 20 ? $"len-{id.Length}" : id;
            return new Case(Category.UnknownSource, name, Post(_webhooks.Body(index), rng, path: "/webhooks/customerio/" + id));
        }

        private Case PathJunk(Random rng, long index)
        {
            var variant = rng.Next(16);
            string path;
            string name;
            switch (variant)
            {
                case 0: path = "/webhooks/customerio/" + new string('a', 4_000); name = "id-4k"; break;
                case 1: path = "/webhooks/customerio/" + new string('a', 9_000); name = "id-9k"; break;
                case 2: path = "/webhooks/customerio/" + string.Concat(Enumerable.Repeat("%41", 19_000)); name = "id-57k-encoded"; break;
                case 3: path = $"/webhooks/customerio/{Source}?" + new string('q', 9_000); name = "query-9k"; break;
                case 4: path = $"/webhooks/customerio/{Source}/extra"; name = "extra-segment"; break;
                case 5: path = $"/webhooks/customerio/{Source}/"; name = "trailing-slash"; break;
                case 6: path = $"/WEBHOOKS/CustomerIO/{Source}"; name = "route-case"; break;
                case 7: path = $"/webhooks//customerio//{Source}"; name = "double-slashes"; break;
                case 8: path = "/webhooks/customerio/"; name = "no-id"; break;
                case 9: path = "/webhooks/customerio/..%2F..%2Fhealth%2Flive"; name = "encoded-dot-dot"; break;
                case 10: path = $"/webhooks/customerio/{Source}?sourceId=demo&x=%00&%FF=%FE"; name = "query-junk"; break;
                case 11: path = $"/webhooks/customerio/{Source}%2F..%2Fdemo"; name = "encoded-slash"; break;
                case 12: path = "/" + new string('/', 2_000); name = "slashes-2k"; break;
                case 13: path = $"/webhooks/customerio/{Source}/%"; name = "bare-percent"; break;
                case 14: path = "/health/live"; name = "post-health"; break;
                default:
                {
                    var sb = new StringBuilder("/webhooks/customerio/");
                    var len = 1 + rng.Next(300);
                    for (var i = 0; i < len; i++)
                    {
                        sb.Append('%').Append(rng.Next(256).ToString("X2", CultureInfo.InvariantCulture));
                    }

                    path = sb.ToString();
                    name = "random-encoded";
                    break;
                }
            }

            return new Case(Category.PathJunk, name, Post(_webhooks.Body(index), rng, path: path));
        }

        private Case WrongMethod(Random rng, long index)
        {
            string[] methods = ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FUZZ", "post", "PROPFIND"];
            var method = methods[rng.Next(methods.Length)];
            var withBody = method is not ("GET" or "HEAD" or "TRACE") || rng.Next(2) == 0;
            var path = rng.Next(5) == 0 ? "/health/live" : $"/webhooks/customerio/{Source}";
            if (method == "TRACE")
            {
                withBody = false;
            }

            var request = withBody
                ? Post(_webhooks.Body(index), rng, path: path, method: new HttpMethod(method))
                : new HttpRequestMessage(new HttpMethod(method), Url(path));
            return new Case(Category.WrongMethod, method + (withBody ? "+signed-body" : "") + (path.StartsWith("/health", StringComparison.Ordinal) ? "-health" : ""), request);
        }

        private Case HeaderJunk(Random rng, long index)
        {
            var body = _webhooks.Body(index);
            var request = Post(body, rng);
            var h = request.Headers;
            var content = request.Content!.Headers;
            var variant = rng.Next(14);
            string name;
            switch (variant)
            {
                case 0:
                    content.Remove("Content-Type");
                    name = "no-content-type";
                    break;
                case 1:
                    content.Remove("Content-Type");
                    content.TryAddWithoutValidation("Content-Type", "text/plain; charset=utf-16");
                    name = "content-type-utf16";
                    break;
                case 2:
                    content.Remove("Content-Type");
                    content.TryAddWithoutValidation("Content-Type", "application/json; x=" + new string('x', 6_000));
                    name = "content-type-6k";
                    break;
                case 3:
                    content.Remove("Content-Type");
                    content.TryAddWithoutValidation("Content-Type", "\u00e9\u00ff/\u00fe");
                    name = "content-type-latin1";
                    break;
                case 4:
                    content.TryAddWithoutValidation("Content-Encoding", "gzip");
                    name = "claims-gzip";
                    break;
                case 5:
                    h.TryAddWithoutValidation("X-Junk", new string('j', 40_000));
                    name = "header-40k";
                    break;
                case 6:
                    for (var i = 0; i < 150; i++)
                    {
                        h.TryAddWithoutValidation("X-Junk-" + i.ToString(CultureInfo.InvariantCulture), "v");
                    }

                    name = "150-headers";
                    break;
                case 7:
                    h.TryAddWithoutValidation("traceparent", "00-" + new string('z', 32) + "-" + new string('z', 16) + "-zz");
                    name = "traceparent-55-garbage";
                    break;
                case 8:
                    h.TryAddWithoutValidation("traceparent", "ff-" + new string('0', 32) + "-" + new string('0', 16) + "-00");
                    name = "traceparent-55-zero-ids";
                    break;
                case 9:
                    h.TryAddWithoutValidation("traceparent", "\u00e9" + new string('0', 54));
                    name = "traceparent-55-latin1";
                    break;
                case 10:
                    h.TryAddWithoutValidation("tracestate", new string('t', 8_000));
                    h.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
                    name = "tracestate-8k";
                    break;
                case 11:
                    h.ExpectContinue = true;
                    name = "expect-100-continue";
                    break;
                case 12:
                    h.TryAddWithoutValidation("Host", "evil.example:1");
                    name = "foreign-host-header";
                    break;
                default:
                    h.TryAddWithoutValidation("X-Junk", "\u0080\u00ff\u0001\u007f");
                    name = "control-bytes";
                    break;
            }

            return new Case(Category.HeaderJunk, name, request);
        }

        // ---------------------------------------------------------------- envelope builder

        private static string Quote(string raw) => "\"" + raw + "\"";

        /// <summary>
        /// A reporting webhook as JSON text, with raw JSON values substituted at dotted paths
        /// (<c>event_id</c>, <c>data.subject</c>, <c>data.identifiers.id</c>, …). <c>&lt;omit&gt;</c> drops the member,
        /// <c>&lt;dup-null&gt;</c> / <c>&lt;dup-object&gt;</c> repeat it with another value after the original.
        /// </summary>
        private string Envelope(long index, params (string Path, string Raw)[] overrides)
        {
            var identifiers = new List<(string, string)> { ("id", Quote($"person-{index % 997}")), ("email", Quote($"person{index % 997}@example.com")), ("cio_id", Quote($"c{index % 997}")) };
            var data = new List<(string, string)>
            {
                ("action_id", "16"), ("campaign_id", "1"), ("delivery_id", Quote($"dlv-{index}")), ("journey_id", Quote("01G2NBFT8N2MYDTT3MHWK7Z6C6")),
                ("subject", Quote("Weekly digest")), ("recipient", Quote($"person{index % 997}@example.com")),
                ("href", Quote("https://example.com/x")), ("link_id", "3"), ("identifiers", "<identifiers>"),
            };
            var envelope = new List<(string, string)>
            {
                ("event_id", Quote($"{_webhooks.RunId}-x{index}")), ("object_type", Quote("email")), ("metric", Quote("clicked")),
                ("timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)), ("data", "<data>"),
            };

            foreach (var (path, raw) in overrides)
            {
                var parts = path.Split('.');
                var list = parts.Length switch { 1 => envelope, 2 => data, _ => identifiers };
                Apply(list, parts[^1], raw);
            }

            static void Apply(List<(string Name, string Raw)> list, string name, string raw)
            {
                var at = list.FindIndex(m => m.Name == name);
                switch (raw)
                {
                    case "<omit>":
                        if (at >= 0)
                        {
                            list.RemoveAt(at);
                        }

                        break;
                    case "<dup-null>":
                        list.Add((name, "null"));
                        break;
                    case "<dup-object>":
                        list.Add((name, "{\"dup\":[1,2,3]}"));
                        break;
                    default:
                        if (at >= 0)
                        {
                            list[at] = (name, raw);
                        }
                        else
                        {
                            list.Add((name, raw));
                        }

                        break;
                }
            }

            static string Render(List<(string Name, string Raw)> members, Func<string, string> expand) =>
                "{" + string.Join(',', members.Select(m => Quote(m.Name) + ":" + expand(m.Raw))) + "}";

            var identifiersJson = Render(identifiers, r => r);
            var dataJson = Render(data, r => r == "<identifiers>" ? identifiersJson : r);
            return Render(envelope, r => r == "<data>" ? dataJson : r);
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
