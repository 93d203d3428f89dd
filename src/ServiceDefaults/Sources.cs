using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using CioSegment.Mapping.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.KeyPerFile;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CioSegment.ServiceDefaults;

/// <summary>How sources are reloaded (<c>CioSegment:SourceCatalog</c>).</summary>
public sealed class SourceCatalogOptions
{
    /// <summary>Configuration section.</summary>
    public const string SectionName = "CioSegment:SourceCatalog";

    /// <summary>
    /// How long the processor still handles events of a removed source with its last settings before they
    /// are dead-lettered as <c>unknown_source</c>. Default 15 minutes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan RemovedSourceGrace { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>The sources as the configuration holds them right now: the valid ones and every problem (<see cref="IOptionsMonitor{T}"/> re-reads them on each configuration change).</summary>
public sealed class ConfiguredSources
{
    /// <summary>The sources whose settings are valid.</summary>
    public List<SourceSettings> Valid { get; set; } = [];

    /// <summary>Every problem, each naming its setting; empty when the whole set is valid.</summary>
    public List<string> Errors { get; set; } = [];
}

/// <summary>
/// Sources that change while the service runs. The configuration gains the directories listed in
/// <c>CioSegment:SettingsDirectories</c> (comma-separated), one setting per file named as its environment
/// variable (<c>CioSegment__Sources__acme__WriteKey</c>): what Kubernetes makes of a mounted Secret or
/// ConfigMap. They are polled every few seconds, and a file swapped behind a symbolic link (as the kubelet
/// updates such volumes) counts as a change. On every change the whole source set is validated: a valid set
/// replaces the current one at once; an invalid one is logged with every problem and the last good set stays.
/// </summary>
public static class Sources
{
    /// <summary>Directories of key-per-file settings, comma-separated.</summary>
    public const string SettingsDirectoriesKey = "CioSegment:SettingsDirectories";

    /// <summary>Meter of the source reloads (one per service container, through <see cref="IMeterFactory"/>).</summary>
    public const string MeterName = "CioSegment.Sources";

    /// <summary>Registers the live <see cref="SourceCatalog"/> (validated at start-up: invalid sources stop the service) and its reloading.</summary>
    public static IHostApplicationBuilder AddSources(this IHostApplicationBuilder builder)
    {
        builder.Configuration.AddSettingsDirectories();
        var services = builder.Services;
        if (services.Any(s => s.ServiceType == typeof(SourceCatalog)))
        {
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<SourceCatalogOptions>().BindConfiguration(SourceCatalogOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<ConfiguredSources>>(sp => new ConfigureNamedOptions<ConfiguredSources>(
            Options.DefaultName,
            sources =>
            {
                sources.Valid = SourceCatalog.Read(sp.GetRequiredService<IConfiguration>().GetSection(SourceSettings.SectionName), out var errors);
                sources.Errors = errors;
            }));
        services.AddSingleton<IOptionsChangeTokenSource<ConfiguredSources>>(sp => new ConfigurationChangeTokenSource<ConfiguredSources>(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp =>
        {
            var configured = sp.GetRequiredService<IOptionsMonitor<ConfiguredSources>>().CurrentValue;
            if (configured.Errors.Count > 0)
            {
                throw new SourceSettingsException(configured.Errors);
            }

            var options = sp.GetRequiredService<IOptions<SourceCatalogOptions>>().Value;
            return new SourceCatalog(configured.Valid, options.RemovedSourceGrace, sp.GetRequiredService<TimeProvider>());
        });
        services.AddHostedService<SourceCatalogReloader>();
        return builder;
    }

    /// <summary>
    /// Adds each directory of <c>CioSegment:SettingsDirectories</c> as key-per-file settings, polled for
    /// changes, ahead of the command line (which still wins). Idempotent.
    /// </summary>
    public static IConfigurationManager AddSettingsDirectories(this IConfigurationManager configuration)
    {
        foreach (var directory in SettingsDirectories(configuration))
        {
            if (configuration.Sources.OfType<SettingsDirectorySource>().Any(s => s.Directory == directory))
            {
                continue;
            }

            try
            {
                Directory.CreateDirectory(directory);   // a mounted volume exists; a local run may name a new one
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Read-only or not ours: polling still picks the directory up once it appears.
            }

            var source = new SettingsDirectorySource(directory)
            {
                // Kubernetes swaps a volume's files behind the ..data symbolic link: an event-based watcher
                // never sees existing keys change; polling compares the link targets' write times.
                FileProvider = new PhysicalFileProvider(directory) { UsePollingFileWatcher = true, UseActivePolling = true },
                Optional = true,
                ReloadOnChange = true,
                ReloadDelay = 250,
            };
            var commandLine = configuration.Sources.ToList().FindIndex(s => s is CommandLineConfigurationSource);
            if (commandLine >= 0)
            {
                configuration.Sources.Insert(commandLine, source);
            }
            else
            {
                configuration.Sources.Add(source);
            }
        }

        return configuration;
    }

    /// <summary>The full paths of <c>CioSegment:SettingsDirectories</c>.</summary>
    internal static IEnumerable<string> SettingsDirectories(IConfiguration configuration) =>
        (configuration[SettingsDirectoriesKey] ?? "")
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(Path.GetFullPath);

    private sealed class SettingsDirectorySource(string directory) : KeyPerFileConfigurationSource
    {
        public string Directory { get; } = directory;
    }
}

/// <summary>Applies each valid change of the configured sources to the <see cref="SourceCatalog"/>; logs and counts every reload.</summary>
internal sealed partial class SourceCatalogReloader : IHostedService, IDisposable
{
    private readonly IOptionsMonitor<ConfiguredSources> _monitor;
    private readonly SourceCatalog _catalog;
    private readonly ILogger _logger;
    private readonly Counter<long> _reloads;
    private IDisposable? _subscription;
    private volatile int _rejected;

    private readonly string _directories;

    public SourceCatalogReloader(IOptionsMonitor<ConfiguredSources> monitor, SourceCatalog catalog, ILogger<SourceCatalogReloader> logger, IMeterFactory meters, IConfiguration configuration)
    {
        _directories = string.Join(", ", Sources.SettingsDirectories(configuration));
        _monitor = monitor;
        _catalog = catalog;
        _logger = logger;
        var meter = meters.Create(Sources.MeterName);
        _reloads = meter.CreateCounter<long>("cio.sources.reloads", "{reload}", "Configuration changes seen by the source catalog, by outcome: applied, unchanged or rejected (invalid: the last good set stays).");
        meter.CreateObservableGauge("cio.sources.configured", () => _catalog.All.Count, "{source}", "Sources currently configured.");
        meter.CreateObservableGauge("cio.sources.rejected", () => _rejected, "{state}", "1 while the configured source settings are invalid and the service keeps running on the last good set; 0 otherwise.");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = _monitor.OnChange(Apply);
        LogSources(_logger, _catalog.All.Count, string.Join(", ", _catalog.All.Select(s => s.SourceId).Order(StringComparer.Ordinal)), _directories.Length > 0 ? _directories : "none");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => Interlocked.Exchange(ref _subscription, null)?.Dispose();

    internal void Apply(ConfiguredSources configured)
    {
        _rejected = configured.Errors.Count > 0 ? 1 : 0;
        if (configured.Errors.Count > 0)
        {
            _reloads.Add(1, new KeyValuePair<string, object?>("outcome", "rejected"));
            LogRejected(_logger, configured.Errors.Count, string.Join(Environment.NewLine + "  ", configured.Errors));
            return;
        }

        var changes = _catalog.Apply(configured.Valid);
        _reloads.Add(1, new KeyValuePair<string, object?>("outcome", changes.None ? "unchanged" : "applied"));
        if (!changes.None)
        {
            LogApplied(_logger, changes.ToString(), _catalog.All.Count, _catalog.RemovedSourceGrace);
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Sources: {Count} configured ({Sources}); settings directories watched for changes: {Directories}")]
    private static partial void LogSources(ILogger logger, int count, string sources, string directories);

    [LoggerMessage(2, LogLevel.Warning, "Sources changed: {Changes}; {Count} configured now. A removed source's events already in Kafka are still handled for {Grace}")]
    private static partial void LogApplied(ILogger logger, string changes, int count, TimeSpan grace);

    [LoggerMessage(3, LogLevel.Error, "Sources not changed: the new settings have {Count} problem(s), so the last good set stays:\n  {Errors}")]
    private static partial void LogRejected(ILogger logger, int count, string errors);
}
