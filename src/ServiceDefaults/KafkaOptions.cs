using System.ComponentModel.DataAnnotations;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace CioSegment.ServiceDefaults;

/// <summary>Kafka connection of a service, section <c>CioSegment:Kafka</c>.</summary>
public sealed class KafkaOptions
{
    public const string SectionName = "CioSegment:Kafka";

    /// <summary>Comma-separated host:port list.</summary>
    [Required]
    public string BootstrapServers { get; set; } = "";

    /// <summary>
    /// Extra librdkafka producer properties (for example <c>security.protocol</c>, <c>sasl.*</c>,
    /// <c>linger.ms</c>), applied last. Never logged: they may hold credentials.
    /// </summary>
    public Dictionary<string, string> Producer { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Extra librdkafka consumer properties, applied last. Never logged.</summary>
    public Dictionary<string, string> Consumer { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Copies <paramref name="overrides"/> onto <paramref name="config"/>.</summary>
    public static T With<T>(T config, IReadOnlyDictionary<string, string> overrides)
        where T : ClientConfig
    {
        foreach (var (key, value) in overrides)
        {
            config.Set(key, value);
        }

        return config;
    }
}

/// <summary>Record size limits shared by every producer of the pipeline.</summary>
public static class KafkaLimits
{
    /// <summary>
    /// The largest record a producer may write: a 1 MiB webhook body (the ingest's default limit) with its
    /// key and headers, as it travels from the raw topic to the dead-letter topic. Brokers' and topics'
    /// <c>message.max.bytes</c> must allow at least this (docker-compose and the chart set it).
    /// </summary>
    public const int MaxRecordBytes = (1024 * 1024) + (64 * 1024);
}

/// <summary>librdkafka's log and error callbacks into <see cref="ILogger"/>.</summary>
public static class KafkaLogging
{
    public static LogLevel LevelOf(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    public static void Log(ILogger logger, LogMessage message) =>
        logger.Log(LevelOf(message.Level), "librdkafka {Facility} ({Client}): {Message}", message.Facility, message.Name, message.Message);
}
