using System.Runtime.InteropServices;

namespace CioSegment.DevDoubles.Kafka.Native;

/// <summary>
/// P/Invoke declarations for the parts of librdkafka's C API the embedded broker uses.
/// Signatures follow <c>rdkafka.h</c> / <c>rdkafka_mock.h</c> of librdkafka 2.16.0 (checked against the
/// exports of the <c>librdkafka.redist</c> 2.16.0 binaries with <c>nm -D</c>).
/// The mock API is marked experimental upstream and is not covered by librdkafka's ABI guarantees:
/// re-check these when the Confluent.Kafka / librdkafka.redist version changes.
/// </summary>
internal static unsafe partial class LibRdKafka
{
    /// <summary>Logical name; <see cref="NativeLibraryLoader"/> maps it to the same file Confluent.Kafka loads.</summary>
    internal const string LibraryName = "librdkafka";

    internal const int RD_KAFKA_PRODUCER = 0;
    internal const int RD_KAFKA_CONF_OK = 0;
    internal const int RD_KAFKA_RESP_ERR_NO_ERROR = 0;

    // ---- rdkafka.h ----

    // rd_kafka_conf_t *rd_kafka_conf_new(void);
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_conf_new();

    // void rd_kafka_conf_destroy(rd_kafka_conf_t *conf);
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_conf_destroy(nint conf);

    // rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
    //                                       char *errstr, size_t errstr_size);
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(nint conf, string name, string value, byte* errstr, nuint errstrSize);

    // rd_kafka_t *rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);
    // On success the handle owns conf; on failure the caller still owns it.
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_new(int type, nint conf, byte* errstr, nuint errstrSize);

    // void rd_kafka_destroy(rd_kafka_t *rk);
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_destroy(nint rk);

    // const char *rd_kafka_err2str(rd_kafka_resp_err_t err);  (static string, never freed)
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_err2str(int err);

    // const char *rd_kafka_version_str(void);  (static string, never freed)
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_version_str();

    // ---- rdkafka_mock.h ----

    // rd_kafka_mock_cluster_t *rd_kafka_mock_cluster_new(rd_kafka_t *rk, int broker_cnt);
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    // void rd_kafka_mock_cluster_destroy(rd_kafka_mock_cluster_t *mcluster);
    // Must be called BEFORE rd_kafka_destroy() of the owning handle: librdkafka asserts (aborts the
    // process) when an rd_kafka_t is destroyed while a mock cluster created on it is still alive.
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_cluster_destroy(nint mcluster);

    // const char *rd_kafka_mock_cluster_bootstraps(const rd_kafka_mock_cluster_t *mcluster);  (owned by the cluster)
    [LibraryImport(LibraryName)]
    internal static partial nint rd_kafka_mock_cluster_bootstraps(nint mcluster);

    // void rd_kafka_mock_set_controller_id(rd_kafka_mock_cluster_t *mcluster, int32_t controller_id);
    // (not in the public header of every version; the 2.16.0 export takes (mcluster, int32) and returns nothing useful)
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_set_controller_id(nint mcluster, int controllerId);

    // void rd_kafka_mock_group_initial_rebalance_delay_ms(rd_kafka_mock_cluster_t *mcluster, int32_t delay_ms);
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(nint mcluster, int delayMs);

    // rd_kafka_resp_err_t rd_kafka_mock_topic_create(rd_kafka_mock_cluster_t *mcluster, const char *topic,
    //                                                int partition_cnt, int replication_factor);
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(nint mcluster, string topic, int partitionCount, int replicationFactor);

    // rd_kafka_resp_err_t rd_kafka_mock_broker_set_down(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id);
    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_down(nint mcluster, int brokerId);

    // rd_kafka_resp_err_t rd_kafka_mock_broker_set_up(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id);
    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_up(nint mcluster, int brokerId);

    // rd_kafka_resp_err_t rd_kafka_mock_broker_set_rtt(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id, int rtt_ms);
    [LibraryImport(LibraryName)]
    internal static partial int rd_kafka_mock_broker_set_rtt(nint mcluster, int brokerId, int rttMs);

    // void rd_kafka_mock_push_request_errors_array(rd_kafka_mock_cluster_t *mcluster, int16_t ApiKey,
    //                                              size_t cnt, const rd_kafka_resp_err_t *errors);
    // (the variadic rd_kafka_mock_push_request_errors is deliberately not bound)
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_push_request_errors_array(nint mcluster, short apiKey, nuint count, int* errors);

    // void rd_kafka_mock_clear_request_errors(rd_kafka_mock_cluster_t *mcluster, int16_t ApiKey);
    [LibraryImport(LibraryName)]
    internal static partial void rd_kafka_mock_clear_request_errors(nint mcluster, short apiKey);

    internal static string ErrorToString(int err) =>
        Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";
}
