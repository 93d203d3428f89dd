using System.Runtime.InteropServices;
using CioSegment.DevDoubles.Kafka.Native;
using Confluent.Kafka;

namespace CioSegment.DevDoubles.Kafka;

/// <summary>
/// The embedded development broker: librdkafka's built-in mock Kafka cluster, started in this process
/// through librdkafka's native API. FOR DEVELOPMENT AND TESTS ONLY, NOT FOR PRODUCTION: production runs on
/// Apache Kafka (docker-compose, Helm).
/// </summary>
/// <remarks>
/// <para>
/// What it does: listens on real <c>127.0.0.1</c> TCP ports (see <see cref="BootstrapServers"/>), so any
/// Kafka client in this or another process (Confluent.Kafka, <c>kcat</c>) can connect. Produce and consume,
/// keys and partitions, headers, consumer groups with rebalancing and offset commits, and the idempotent
/// producer work. Faults can be injected: <see cref="SetBrokerDown"/>, <see cref="SetBrokerUp"/>,
/// <see cref="SetBrokerRtt"/>, <see cref="PushRequestErrors"/>.
/// </para>
/// <para>
/// What it does NOT do (measured with librdkafka 2.16.0):
/// </para>
/// <list type="bullet">
///   <item><description>
///     Transactions exist only as API calls. <c>InitTransactions</c>/<c>BeginTransaction</c>/<c>CommitTransaction</c>/
///     <c>AbortTransaction</c> succeed, but a <c>read_committed</c> consumer still sees aborted and
///     still-open-transaction records, and offsets sent with <c>SendOffsetsToTransaction</c> are never stored.
///     Nothing that relies on exactly-once semantics can be verified against it.
///   </description></item>
///   <item><description>
///     The Admin API's <c>CreateTopics</c> does not work: create topics with <see cref="CreateTopic"/>
///     (clients' topic auto-creation also works, with the mock's default partition count).
///   </description></item>
///   <item><description>
///     Retention: each partition keeps only its newest 5 MiB or 100 000 records; older records are
///     dropped silently (a consumer that falls that far behind loses data with no error).
///   </description></item>
///   <item><description>
///     No persistence: everything is in memory and gone on <see cref="Dispose"/>. No log compaction
///     (a "compacted" topic is an ordinary one here). Replicas exist only in metadata.
///   </description></item>
/// </list>
/// <para>
/// Group rebalances take about <c>session.timeout.ms - 1 s</c>; give test consumers a short session
/// timeout (e.g. 6000 ms, heartbeat 500 ms). The initial rebalance delay is set to 0 here.
/// </para>
/// <para>
/// The type loads the same librdkafka file that Confluent.Kafka loads from <c>librdkafka.redist</c>
/// (on Debian 12: <c>centos8-librdkafka.so</c>, because the default build needs <c>libsasl2.so.3</c>).
/// Instances are thread-safe.
/// </para>
/// </remarks>
public sealed class EmbeddedKafkaBroker : IDisposable
{
    /// <summary>How this broker must be described wherever it is used.</summary>
    public const string Label =
        "embedded development broker (librdkafka mock cluster): for development and tests only, not for production";

    private const int ErrorBufferSize = 512;

    private readonly Lock _gate = new();
    private nint _rk;       // rd_kafka_t* that owns the mock cluster (producer type, never used to produce)
    private nint _cluster;  // rd_kafka_mock_cluster_t*

    private EmbeddedKafkaBroker(nint rk, nint cluster, int brokerCount, string bootstrapServers)
    {
        _rk = rk;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>Comma-separated <c>127.0.0.1:port</c> list of the mock brokers, for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; their ids are 1..<see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>Replication factor used by <see cref="CreateTopic"/>: min(<see cref="BrokerCount"/>, 3).</summary>
    public int ReplicationFactor => Math.Min(BrokerCount, 3);

    /// <summary>librdkafka version string of the loaded native library.</summary>
    public static string LibrdkafkaVersion
    {
        get
        {
            NativeLibraryLoader.EnsureLoaded();
            return Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_version_str()) ?? "unknown";
        }
    }

    /// <summary>The native file the broker runs from (null before the first <see cref="Start"/>).</summary>
    public static string? NativeLibraryPath => NativeLibraryLoader.LoadedPath;

    /// <summary>True once <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed
    {
        get { lock (_gate) { return _cluster == 0; } }
    }

    /// <summary>
    /// Starts a mock cluster with <paramref name="brokerCount"/> brokers (ids 1..n) listening on ephemeral
    /// 127.0.0.1 ports. Broker 1 is the controller; the group initial rebalance delay is 0.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="brokerCount"/> is not 1..32.</exception>
    /// <exception cref="DllNotFoundException">librdkafka could not be loaded (the message lists what was tried).</exception>
    /// <exception cref="EmbeddedKafkaBrokerException">librdkafka refused to create the handle or the cluster.</exception>
    public static unsafe EmbeddedKafkaBroker Start(int brokerCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokerCount, 32);

        NativeLibraryLoader.EnsureLoaded();

        var conf = LibRdKafka.rd_kafka_conf_new();
        if (conf == 0)
        {
            throw new EmbeddedKafkaBrokerException("rd_kafka_conf_new returned NULL.");
        }

        byte* errstr = stackalloc byte[ErrorBufferSize];
        errstr[0] = 0;
        nint rk;
        try
        {
            // The owner handle never talks to a broker itself; it only hosts the mock cluster's thread.
            SetConf(conf, "client.id", "cio-dev-broker-owner", errstr);
            // It has no bootstrap.servers of its own: hide that notice, keep the cluster's warnings/errors.
            SetConf(conf, "log_level", "4", errstr);
            rk = LibRdKafka.rd_kafka_new(LibRdKafka.RD_KAFKA_PRODUCER, conf, errstr, ErrorBufferSize);
            if (rk == 0)
            {
                throw new EmbeddedKafkaBrokerException(
                    $"rd_kafka_new failed for the {Label}: {ReadError(errstr)}");
            }
        }
        catch
        {
            LibRdKafka.rd_kafka_conf_destroy(conf); // not taken over by rd_kafka_new on failure
            throw;
        }

        var cluster = LibRdKafka.rd_kafka_mock_cluster_new(rk, brokerCount);
        if (cluster == 0)
        {
            LibRdKafka.rd_kafka_destroy(rk);
            throw new EmbeddedKafkaBrokerException(
                $"rd_kafka_mock_cluster_new({brokerCount}) failed (could not open listeners on 127.0.0.1?).");
        }

        // Without a controller id AdminClient calls (DescribeCluster, metadata-based tooling) time out.
        LibRdKafka.rd_kafka_mock_set_controller_id(cluster, 1);
        // Default is 3 s: every first join of a group would wait that long.
        LibRdKafka.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);

        var bootstraps = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_mock_cluster_bootstraps(cluster));
        if (string.IsNullOrEmpty(bootstraps))
        {
            LibRdKafka.rd_kafka_mock_cluster_destroy(cluster);
            LibRdKafka.rd_kafka_destroy(rk);
            throw new EmbeddedKafkaBrokerException("rd_kafka_mock_cluster_bootstraps returned nothing.");
        }

        return new EmbeddedKafkaBroker(rk, cluster, brokerCount, bootstraps);
    }

    /// <summary>
    /// Creates <paramref name="name"/> with <paramref name="partitions"/> partitions and replication factor
    /// <see cref="ReplicationFactor"/>. (The Admin API's CreateTopics does not work on this broker.)
    /// </summary>
    /// <exception cref="EmbeddedKafkaBrokerException">The mock refused, e.g. the topic already exists; the message names the topic.</exception>
    public void CreateTopic(string name, int partitions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);

        lock (_gate)
        {
            var cluster = LiveCluster();
            var err = LibRdKafka.rd_kafka_mock_topic_create(cluster, name, partitions, ReplicationFactor);
            ThrowIfError(err, $"Creating topic '{name}' ({partitions} partitions, replication factor {ReplicationFactor}) on the {Label} failed");
        }
    }

    /// <summary>
    /// Takes broker <paramref name="brokerId"/> down (-1: all brokers): its connections are closed and new
    /// ones refused. Partition leadership does NOT move to another broker.
    /// </summary>
    public void SetBrokerDown(int brokerId)
    {
        lock (_gate)
        {
            ValidateBrokerId(brokerId);
            ThrowIfError(LibRdKafka.rd_kafka_mock_broker_set_down(LiveCluster(), brokerId), $"Setting broker {brokerId} down failed");
        }
    }

    /// <summary>Lets broker <paramref name="brokerId"/> (-1: all brokers) accept connections again.</summary>
    public void SetBrokerUp(int brokerId)
    {
        lock (_gate)
        {
            ValidateBrokerId(brokerId);
            ThrowIfError(LibRdKafka.rd_kafka_mock_broker_set_up(LiveCluster(), brokerId), $"Setting broker {brokerId} up failed");
        }
    }

    /// <summary>
    /// Delays every response of broker <paramref name="brokerId"/> (-1: all brokers) by
    /// <paramref name="milliseconds"/> (0 removes the delay).
    /// </summary>
    public void SetBrokerRtt(int brokerId, int milliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds);
        lock (_gate)
        {
            ValidateBrokerId(brokerId);
            ThrowIfError(LibRdKafka.rd_kafka_mock_broker_set_rtt(LiveCluster(), brokerId, milliseconds),
                $"Setting the round-trip time of broker {brokerId} to {milliseconds} ms failed");
        }
    }

    /// <summary>
    /// Makes the next <c>errors.Length</c> requests of type <paramref name="apiKey"/> (to any broker) fail,
    /// in order, with the given error codes. <see cref="ErrorCode.Local_Transport"/> makes the broker drop the
    /// connection instead. Uses <c>rd_kafka_mock_push_request_errors_array</c>.
    /// </summary>
    public unsafe void PushRequestErrors(KafkaApiKey apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Length == 0)
        {
            return;
        }

        var codes = new int[errors.Length];
        for (var i = 0; i < errors.Length; i++)
        {
            codes[i] = (int)errors[i];
        }

        lock (_gate)
        {
            var cluster = LiveCluster();
            fixed (int* p = codes)
            {
                LibRdKafka.rd_kafka_mock_push_request_errors_array(cluster, (short)apiKey, (nuint)codes.Length, p);
            }
        }
    }

    /// <summary>Removes errors queued with <see cref="PushRequestErrors"/> for <paramref name="apiKey"/>.</summary>
    public void ClearRequestErrors(KafkaApiKey apiKey)
    {
        lock (_gate)
        {
            LibRdKafka.rd_kafka_mock_clear_request_errors(LiveCluster(), (short)apiKey);
        }
    }

    /// <summary>The <see cref="Label"/>, broker count and bootstrap servers.</summary>
    public override string ToString() =>
        $"{Label}; {BrokerCount} broker(s) at {BootstrapServers}{(IsDisposed ? " (stopped)" : string.Empty)}";

    /// <summary>
    /// Stops the cluster (closing every client connection; all data is lost) and destroys its owner
    /// handle. Idempotent.
    /// </summary>
    public void Dispose()
    {
        nint cluster, rk;
        lock (_gate)
        {
            cluster = _cluster;
            rk = _rk;
            _cluster = 0;
            _rk = 0;
        }

        // Order matters: librdkafka aborts the process if the owner handle is destroyed while a mock
        // cluster created on it is still alive.
        if (cluster != 0)
        {
            LibRdKafka.rd_kafka_mock_cluster_destroy(cluster);
        }

        if (rk != 0)
        {
            LibRdKafka.rd_kafka_destroy(rk);
        }
    }

    private nint LiveCluster()
    {
        ObjectDisposedException.ThrowIf(_cluster == 0, this);
        return _cluster;
    }

    private void ValidateBrokerId(int brokerId)
    {
        if (brokerId != -1 && (brokerId < 1 || brokerId > BrokerCount))
        {
            throw new ArgumentOutOfRangeException(nameof(brokerId), brokerId,
                $"Broker ids are 1..{BrokerCount}, or -1 for all brokers.");
        }
    }

    private static void ThrowIfError(int err, string what)
    {
        if (err != LibRdKafka.RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            throw new EmbeddedKafkaBrokerException(
                $"{what}: {LibRdKafka.ErrorToString(err)} ({(ErrorCode)err}, {err}).", (ErrorCode)err);
        }
    }

    private static unsafe void SetConf(nint conf, string name, string value, byte* errstr)
    {
        if (LibRdKafka.rd_kafka_conf_set(conf, name, value, errstr, ErrorBufferSize) != LibRdKafka.RD_KAFKA_CONF_OK)
        {
            throw new EmbeddedKafkaBrokerException($"rd_kafka_conf_set({name}={value}) failed: {ReadError(errstr)}");
        }
    }

    private static unsafe string ReadError(byte* errstr) =>
        Marshal.PtrToStringUTF8((nint)errstr) is { Length: > 0 } s ? s : "(no detail)";
}
