using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CioSegment.DevDoubles.Kafka;
using CioSegment.IntegrationTests.Kafka;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Testcontainers.Kafka;

[assembly: AssemblyFixture(typeof(KafkaFixture))]

namespace CioSegment.IntegrationTests.Kafka;

/// <summary>
/// One Kafka broker for the whole test assembly, chosen in this order:
/// <list type="number">
///   <item><description><c>KAFKA_BOOTSTRAP_SERVERS</c> set: that (real) cluster; topics are created with the Admin API.</description></item>
///   <item><description>A Docker engine answers <c>/_ping</c> within 2 s: Testcontainers.Kafka, KRaft, image <see cref="KafkaImage"/>.</description></item>
///   <item><description>Otherwise the <see cref="EmbeddedKafkaBroker"/> (librdkafka mock cluster; no real transactions).</description></item>
/// </list>
/// <c>KAFKA_TEST_BROKER=embedded</c> skips the Docker probe (fast local runs on a machine that has Docker).
/// The choice, and why the earlier options were not taken, is reported once as a diagnostic message,
/// on stderr, and in <see cref="SelectionReport"/>.
/// </summary>
public sealed class KafkaFixture : IAsyncLifetime
{
    public const string KindExternal = "external";
    public const string KindTestcontainers = "testcontainers";
    public const string KindEmbedded = "embedded";

    /// <summary>Pinned image for the Testcontainers path (Confluent Platform 7.9 = Apache Kafka 3.9, KRaft).</summary>
    public const string KafkaImage = "confluentinc/cp-kafka:7.9.0";

    private static readonly TimeSpan DockerProbeTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ContainerStartTimeout = TimeSpan.FromMinutes(3);

    private KafkaContainer? _container;
    private IAdminClient? _admin;
    private int _replicationFactor = -1;

    public string BootstrapServers { get; private set; } = string.Empty;

    /// <summary>"external", "testcontainers" or "embedded".</summary>
    public string Kind { get; private set; } = string.Empty;

    /// <summary>False on the embedded broker, whose transactions are API calls only.</summary>
    public bool SupportsTransactions => Kind != KindEmbedded;

    /// <summary>The embedded broker for fault injection; null on a real broker.</summary>
    public EmbeddedKafkaBroker? EmbeddedBroker { get; private set; }

    /// <summary>Which broker was chosen and why the others were not.</summary>
    public string SelectionReport { get; private set; } = string.Empty;

    /// <summary>A fresh name for a topic, group or transactional id: <c>{prefix}-{guid}</c>.</summary>
    public string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public async ValueTask InitializeAsync()
    {
        var notes = new List<string>();
        var sw = Stopwatch.StartNew();

        var external = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        if (!string.IsNullOrWhiteSpace(external))
        {
            Kind = KindExternal;
            BootstrapServers = external.Trim();
            _replicationFactor = int.TryParse(Environment.GetEnvironmentVariable("KAFKA_REPLICATION_FACTOR"), out var rf) ? rf : -1;
            notes.Add($"KAFKA_BOOTSTRAP_SERVERS is set: using the real cluster at {BootstrapServers}");
        }
        else
        {
            notes.Add("KAFKA_BOOTSTRAP_SERVERS is not set");
            var forced = Environment.GetEnvironmentVariable("KAFKA_TEST_BROKER");
            if (string.Equals(forced, KindEmbedded, StringComparison.OrdinalIgnoreCase))
            {
                notes.Add("KAFKA_TEST_BROKER=embedded: Docker not probed");
            }
            else if (await ProbeDockerAsync(DockerProbeTimeout) is { } dockerProblem)
            {
                notes.Add($"Testcontainers not used: {dockerProblem}");
            }
            else if (await TryStartContainerAsync() is { } containerProblem)
            {
                notes.Add($"Testcontainers not used: {containerProblem}");
            }
            else
            {
                Kind = KindTestcontainers;
                _replicationFactor = 1;
                notes.Add($"Docker answered: started {KafkaImage} (KRaft) at {BootstrapServers}");
            }

            if (Kind.Length == 0)
            {
                EmbeddedBroker = EmbeddedKafkaBroker.Start(brokerCount: 1);
                Kind = KindEmbedded;
                BootstrapServers = EmbeddedBroker.BootstrapServers;
                notes.Add($"using the {EmbeddedBroker} (librdkafka {EmbeddedKafkaBroker.LibrdkafkaVersion}); "
                          + "tests that need real transactions are skipped");
            }
        }

        if (Kind != KindEmbedded)
        {
            _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        }

        SelectionReport = $"Kafka for integration tests: {Kind} ({sw.ElapsedMilliseconds} ms to choose). " + string.Join("; ", notes) + ".";
        Report(SelectionReport);
    }

    public async ValueTask DisposeAsync()
    {
        _admin?.Dispose();
        EmbeddedBroker?.Dispose();
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    /// <summary>
    /// Creates a topic: through the mock API on the embedded broker (which has no compaction: the flag is
    /// then only recorded), through the Admin API elsewhere (waiting until every partition has a leader).
    /// </summary>
    public async Task CreateTopicAsync(string name, int partitions, bool compacted = false)
    {
        if (EmbeddedBroker is not null)
        {
            EmbeddedBroker.CreateTopic(name, partitions);
            return;
        }

        var spec = new TopicSpecification
        {
            Name = name,
            NumPartitions = partitions,
            ReplicationFactor = (short)_replicationFactor,
        };
        if (compacted)
        {
            spec.Configs = new Dictionary<string, string> { ["cleanup.policy"] = "compact" };
        }

        var admin = _admin ?? throw new InvalidOperationException("The fixture is not initialised.");
        try
        {
            await admin.CreateTopicsAsync([spec], new CreateTopicsOptions { OperationTimeout = TimeSpan.FromSeconds(30) });
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var topic = admin.GetMetadata(name, TimeSpan.FromSeconds(5)).Topics.SingleOrDefault(t => t.Topic == name);
            if (topic is { Error.Code: ErrorCode.NoError } && topic.Partitions.Count == partitions && topic.Partitions.All(p => p.Leader >= 0))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Topic '{name}' on the {Kind} broker has no leader for every partition after 30 s.");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Skips the calling test unless the broker implements transactions (not the embedded one).</summary>
    public void SkipUnlessTransactions()
    {
        if (!SupportsTransactions)
        {
            Assert.Skip(
                $"Needs real Kafka transactions; the broker here is '{Kind}' ({EmbeddedKafkaBroker.Label}), which accepts "
                + "the transaction API calls without their semantics: read_committed sees aborted records and "
                + "SendOffsetsToTransaction offsets are never stored. Set KAFKA_BOOTSTRAP_SERVERS or run where a Docker engine is available.");
        }
    }

    /// <summary>Returns the embedded broker, or skips the calling test (fault injection needs the mock cluster).</summary>
    public EmbeddedKafkaBroker RequireEmbeddedBroker(string what)
    {
        if (EmbeddedBroker is null)
        {
            Assert.Skip($"{what} needs the embedded broker's fault injection; the broker is '{Kind}'.");
        }

        return EmbeddedBroker;
    }

    /// <summary>Consumer settings for tests: short session so rebalances finish quickly (about session.timeout.ms - 1 s on the embedded broker).</summary>
    public ConsumerConfig ConsumerConfig(string groupId) => new()
    {
        BootstrapServers = BootstrapServers,
        GroupId = groupId,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = 6000,
        HeartbeatIntervalMs = 500,
    };

    private static void Report(string message)
    {
        TestContext.Current.SendDiagnosticMessage(message);
        Console.Error.WriteLine(message);
    }

    /// <summary>Null when a Docker engine answered <c>GET /_ping</c>; otherwise why not. Bounded by <paramref name="timeout"/>.</summary>
    private static async Task<string?> ProbeDockerAsync(TimeSpan timeout)
    {
        var dockerHost = Environment.GetEnvironmentVariable("DOCKER_HOST");
        EndPoint endpoint;
        string where;
        if (string.IsNullOrWhiteSpace(dockerHost))
        {
            string?[] sockets =
            [
                "/var/run/docker.sock",
                Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg ? Path.Combine(xdg, "docker.sock") : null,
                Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker", "run", "docker.sock"),
            ];
            var socket = sockets.FirstOrDefault(s => s is not null && File.Exists(s));
            if (socket is null)
            {
                return $"no Docker engine (DOCKER_HOST unset; no socket at {string.Join(", ", sockets.Where(s => s is not null))})";
            }

            endpoint = new UnixDomainSocketEndPoint(socket);
            where = socket;
        }
        else if (dockerHost.StartsWith("unix://", StringComparison.Ordinal))
        {
            var path = dockerHost["unix://".Length..];
            if (!File.Exists(path))
            {
                return $"DOCKER_HOST={dockerHost} but {path} does not exist";
            }

            endpoint = new UnixDomainSocketEndPoint(path);
            where = dockerHost;
        }
        else if (dockerHost.StartsWith("tcp://", StringComparison.Ordinal) && Uri.TryCreate(dockerHost, UriKind.Absolute, out var uri))
        {
            endpoint = new DnsEndPoint(uri.Host, uri.Port);
            where = dockerHost;
        }
        else
        {
            return null; // npipe:// or ssh://: let Testcontainers try, within its start timeout
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var s = endpoint is UnixDomainSocketEndPoint
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(endpoint, cts.Token);
            if (dockerHost is not null && Environment.GetEnvironmentVariable("DOCKER_TLS_VERIFY") is { Length: > 0 })
            {
                return null; // TLS daemon: the port answers; Testcontainers does the handshake
            }

            await s.SendAsync("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"u8.ToArray(), cts.Token);
            var buffer = new byte[64];
            var n = await s.ReceiveAsync(buffer, cts.Token);
            var status = Encoding.ASCII.GetString(buffer, 0, n);
            return status.StartsWith("HTTP/1.", StringComparison.Ordinal) && status.Contains(" 200 ", StringComparison.Ordinal)
                ? null
                : $"Docker at {where} answered /_ping with '{status.Split('\r')[0]}'";
        }
        catch (OperationCanceledException)
        {
            return $"Docker at {where} did not answer within {timeout.TotalSeconds:0} s";
        }
        catch (SocketException ex)
        {
            return $"Docker at {where} is not reachable ({ex.SocketErrorCode})";
        }
    }

    /// <summary>Null on success (sets <see cref="BootstrapServers"/>); otherwise why it failed.</summary>
    private async Task<string?> TryStartContainerAsync()
    {
        var container = new KafkaBuilder(KafkaImage).WithKRaft().Build();
        try
        {
            using var cts = new CancellationTokenSource(ContainerStartTimeout);
            await container.StartAsync(cts.Token);
            // GetBootstrapAddress() is a URI ("plaintext://127.0.0.1:32768/"); keep it as host:port.
            var address = container.GetBootstrapAddress();
            BootstrapServers = Uri.TryCreate(address, UriKind.Absolute, out var uri) ? $"{uri.Host}:{uri.Port}" : address;
            _container = container;
            return null;
        }
        catch (Exception ex)
        {
            try
            {
                await container.DisposeAsync();
            }
            catch (Exception disposeError)
            {
                Report($"Disposing the failed {KafkaImage} container failed too: {disposeError.Message}");
            }

            return ex is OperationCanceledException
                ? $"{KafkaImage} did not start within {ContainerStartTimeout.TotalMinutes:0} min"
                : $"starting {KafkaImage} failed: {ex.GetType().Name}: {ex.Message}";
        }
    }
}
