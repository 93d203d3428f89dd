using System.CommandLine;
using CioSegment.LoadTest;

// dotnet run -c Release --project tools/LoadTest -- e2e --seconds 20
// dotnet run -c Release --project tools/LoadTest -- chaos --cycles 5
// dotnet run -c Release --project tools/LoadTest -- fuzz --requests 20000
// dotnet run -c Release --project tools/LoadTest -- simulate --schedules 2000 [--seed 1]
// dotnet run -c Release --project tools/LoadTest -- cpu [--events 20000] [--rate 3000] [--runs 2]
var seconds = new Option<int>("--seconds") { Description = "How long to drive load.", DefaultValueFactory = _ => 20 };
var workers = new Option<int>("--workers") { Description = "Concurrent senders.", DefaultValueFactory = _ => 64 };
var rate = new Option<int>("--rate") { Description = "Webhooks per second (0 = as fast as possible).", DefaultValueFactory = _ => 0 };
var setting = new Option<string[]>("--set") { Description = "Extra DevHost configuration, Section:Key=value (repeatable).", AllowMultipleArgumentsPerToken = true };
var e2e = new Command("e2e", "Start a DevHost wired to a stand-in Segment, drive it, report throughput, latency, loss and duplicates.") { seconds, workers, rate, setting };
e2e.SetAction((parse, cancel) => E2eCommand.RunAsync(parse.GetValue(seconds), parse.GetValue(workers), parse.GetValue(rate), parse.GetValue(setting) ?? [], cancel));

var cycles = new Option<int>("--cycles") { Description = "Kill-and-restart cycles.", DefaultValueFactory = _ => 5 };
var chaosRate = new Option<int>("--rate") { Description = "Webhooks per second during the run.", DefaultValueFactory = _ => 500 };
var chaos = new Command("chaos", "Broker, ingest and processor as separate processes under load; SIGKILL ingest and processor at random moments.") { cycles, chaosRate };
chaos.SetAction((parse, cancel) => ChaosCommand.RunAsync(parse.GetValue(cycles), parse.GetValue(chaosRate), cancel));

var requests = new Option<int>("--requests") { Description = "Hostile requests to send.", DefaultValueFactory = _ => 20000 };
var fuzz = new Command("fuzz", "Send malformed and hostile inputs to the ingest; report 5xx answers and crashes.") { requests };
fuzz.SetAction((parse, cancel) => FuzzCommand.RunAsync(parse.GetValue(requests), cancel));

var schedules = new Option<int>("--schedules") { Description = "Seeded schedules to run.", DefaultValueFactory = _ => 2000 };
var seed = new Option<int>("--seed") { Description = "First seed (the schedules use seed, seed+1, ...).", DefaultValueFactory = _ => 1 };
var steps = new Option<int>("--steps") { Description = "Random steps per schedule before the faults stop.", DefaultValueFactory = _ => 300 };
var simulate = new Command("simulate", "Seeded fault schedules of the transformer and the publisher on the in-memory Kafka double (no network); report invariant violations.") { schedules, seed, steps };
simulate.SetAction(parse => SimulateCommand.Run(parse.GetValue(schedules), parse.GetValue(seed), parse.GetValue(steps)));

var events = new Option<int>("--events") { Description = "Unique webhooks per phase (floor, then pipeline) and run.", DefaultValueFactory = _ => 20000 };
var cpuRate = new Option<int>("--rate") { Description = "Webhooks per second (0 = as fast as answered).", DefaultValueFactory = _ => 0 };
var runs = new Option<int>("--runs") { Description = "Runs, floor and pipeline alternated; medians are reported.", DefaultValueFactory = _ => 2 };
var cpuWorkers = new Option<int>("--workers") { Description = "Concurrent senders.", DefaultValueFactory = _ => 64 };
var cpuEnv = new Option<string[]>("--env") { Description = "Extra environment variable for one process, process:NAME=value (ingest, processor, broker, floor; repeatable).", AllowMultipleArgumentsPerToken = true };
var guarantee = new Option<string>("--guarantee") { Description = "The transformer's processing guarantee: ExactlyOnce (as in production) or AtLeastOnce.", DefaultValueFactory = _ => "ExactlyOnce" };
guarantee.AcceptOnlyFromAmong("ExactlyOnce", "AtLeastOnce");
var cpu = new Command("cpu", "CPU time per webhook of the ingest, the processor and the development broker (separate processes), against a bare Kestrel+HMAC floor.") { events, cpuRate, runs, cpuWorkers, guarantee, cpuEnv };
cpu.SetAction((parse, cancel) => CpuCommand.RunAsync(parse.GetValue(events), parse.GetValue(cpuRate), parse.GetValue(runs), parse.GetValue(cpuWorkers), parse.GetValue(guarantee)!, parse.GetValue(cpuEnv) ?? [], cancel));

var port = new Option<int>("--port") { Description = "Loopback port to listen on.", Required = true };
var key = new Option<string>("--key") { Description = "Webhook signing key.", Required = true };
var floorCommand = new Command("floor", "A bare Kestrel endpoint that checks the webhook signature and answers 200 (started by cpu as its own process).") { port, key };
floorCommand.SetAction((parse, cancel) => FloorCommand.RunAsync(parse.GetValue(port), parse.GetValue(key)!, cancel));

var inspectorWebhooks = new Option<long>("--webhooks") { Description = "Webhooks to index (86 400 000: 24 h at 1 000/s).", DefaultValueFactory = _ => 1_000_000 };
var inspectorFile = new Option<string>("--file") { Description = "The SQLite index file to create (replaced).", DefaultValueFactory = _ => ".local/inspector-bench.db" };
var maxWebhooks = new Option<long>("--max-webhooks") { Description = "The index's MaxWebhooks (its buckets hold a twenty-fourth); default --webhooks.", DefaultValueFactory = _ => 0 };
var cacheMegabytes = new Option<int>("--cache-mb") { Description = "SQLite page cache of the writer, MB (CioSegment:Inspector:CacheMegabytes).", DefaultValueFactory = _ => 256 };
var buckets = new Option<int>("--buckets") { Description = "Buckets a full index is split into (CioSegment:Inspector:Buckets).", DefaultValueFactory = _ => 96 };
var batch = new Option<int>("--batch") { Description = "Webhooks per transaction (each with a sink record and a delivery line: three records).", DefaultValueFactory = _ => 16_000 };
var searchOnly = new Option<bool>("--search-only") { Description = "Search an index an earlier run filled (same --webhooks and --file) instead of filling it." };
var inspector = new Command("inspector", "The event inspector's index: indexing rate per CPU second on one thread, then search latencies at that size.") { inspectorWebhooks, inspectorFile, searchOnly, maxWebhooks, cacheMegabytes, buckets, batch };
inspector.SetAction(parse => InspectorCommand.Run(parse.GetValue(inspectorWebhooks), parse.GetValue(inspectorFile)!, parse.GetValue(searchOnly), parse.GetValue(maxWebhooks), parse.GetValue(cacheMegabytes), parse.GetValue(buckets), parse.GetValue(batch)));

var root = new RootCommand("CioSegment load, crash and bad-input harness (loopback only).") { e2e, chaos, fuzz, simulate, cpu, floorCommand, inspector };
return await root.Parse(args).InvokeAsync();
