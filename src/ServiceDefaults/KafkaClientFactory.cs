using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CioSegment.ServiceDefaults;

/// <summary>
/// The one way the services build a Kafka client (as Aspire's Confluent.Kafka component does): the bootstrap
/// servers, the client id and the configured overrides (<see cref="KafkaOptions.Producer"/> /
/// <see cref="KafkaOptions.Consumer"/>, applied last), librdkafka's log lines in the host's logging (category
/// <c>CioSegment.Kafka.{client id}</c>), its statistics as metrics (<see cref="KafkaStatistics"/>), and its
/// errors logged, fatal ones as Critical. Callers add what is theirs (deserializers, rebalance handlers) to
/// the builder and build it.
/// </summary>
public sealed class KafkaClientFactory(KafkaOptions options, ILoggerFactory? loggers = null)
{
    private readonly ILoggerFactory _loggers = loggers ?? NullLoggerFactory.Instance;

    public KafkaOptions Options => options;

    /// <param name="onError">Also told of every error (after it is logged), for example to remember a fatal one.</param>
    public ProducerBuilder<TKey, TValue> Producer<TKey, TValue>(string clientId, ProducerConfig config, Action<Error>? onError = null)
    {
        var logger = Logger(clientId);
        return new ProducerBuilder<TKey, TValue>(Configure(config, clientId, options.Producer))
            .SetLogHandler((_, m) => KafkaLogging.Log(logger, m))
            .WithStatistics()
            .SetErrorHandler((_, e) => OnError(logger, clientId, e, onError));
    }

    /// <param name="onError">Also told of every error (after it is logged).</param>
    public ConsumerBuilder<TKey, TValue> Consumer<TKey, TValue>(string clientId, ConsumerConfig config, Action<Error>? onError = null)
    {
        var logger = Logger(clientId);
        return new ConsumerBuilder<TKey, TValue>(Configure(config, clientId, options.Consumer))
            .SetLogHandler((_, m) => KafkaLogging.Log(logger, m))
            .WithStatistics()
            .SetErrorHandler((_, e) => OnError(logger, clientId, e, onError));
    }

    private T Configure<T>(T config, string clientId, IReadOnlyDictionary<string, string> overrides)
        where T : ClientConfig
    {
        config.BootstrapServers = options.BootstrapServers;
        config.ClientId = clientId;
        return KafkaStatistics.Enable(KafkaOptions.With(config, overrides));
    }

    private ILogger Logger(string clientId) => _loggers.CreateLogger("CioSegment.Kafka." + clientId);

    private static void OnError(ILogger logger, string clientId, Error error, Action<Error>? then)
    {
        logger.Log(error.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka client {Client} error ({Code}): {Reason}", clientId, error.Code, error.Reason);
        then?.Invoke(error);
    }
}

/// <summary>Registration of the Kafka settings and the client factory.</summary>
public static class KafkaClientRegistration
{
    /// <summary>Binds and validates <c>CioSegment:Kafka</c> (at start) and registers the <see cref="KafkaClientFactory"/>.</summary>
    public static IServiceCollection AddKafkaClients(this IServiceCollection services)
    {
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp => new KafkaClientFactory(sp.GetRequiredService<IOptions<KafkaOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        return services;
    }
}
