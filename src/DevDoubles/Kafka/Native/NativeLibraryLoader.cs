using System.Reflection;
using System.Runtime.InteropServices;

namespace CioSegment.DevDoubles.Kafka.Native;

/// <summary>
/// Maps <see cref="LibRdKafka.LibraryName"/> to the librdkafka file that Confluent.Kafka itself loads from
/// <c>librdkafka.redist</c>, so the process holds one copy of the native library.
/// </summary>
/// <remarks>
/// On Debian 12 the package's default <c>librdkafka.so</c> needs <c>libsasl2.so.3</c>, which is missing;
/// Confluent.Kafka then falls back to <c>centos8-librdkafka.so</c>. A plain <c>DllImport("librdkafka")</c>
/// has no such fallback, hence this resolver. It is registered once per process (thread-safe) and
/// caches the handle it loaded.
/// </remarks>
internal static class NativeLibraryLoader
{
    private static readonly Lock Gate = new();
    private static bool _resolverRegistered;
    private static nint _handle;
    private static string? _loadedPath;

    /// <summary>Full path (or name) of the native file in use, once loaded.</summary>
    internal static string? LoadedPath
    {
        get { lock (Gate) { return _loadedPath; } }
    }

    /// <summary>
    /// Registers the resolver (first call only) and loads the library, throwing a
    /// <see cref="DllNotFoundException"/> that lists every candidate tried and why it failed.
    /// </summary>
    internal static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (!_resolverRegistered)
            {
                NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);
                _resolverRegistered = true;
            }

            if (_handle != 0)
            {
                return;
            }

            var failures = new List<string>();
            foreach (var candidate in Candidates())
            {
                if (candidate.IsPath && !File.Exists(candidate.Value))
                {
                    failures.Add($"{candidate.Value}: not found");
                    continue;
                }

                try
                {
                    _handle = NativeLibrary.Load(candidate.Value);
                    _loadedPath = candidate.Value;
                    return;
                }
                catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
                {
                    failures.Add($"{candidate.Value}: {ex.Message}");
                }
            }

            throw new DllNotFoundException(
                "Could not load librdkafka for the embedded development broker. Tried:" + Environment.NewLine +
                string.Join(Environment.NewLine, failures.Select(f => "  " + f)));
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibRdKafka.LibraryName)
        {
            return 0; // not ours: default probing
        }

        EnsureLoaded();
        return _handle;
    }

    private readonly record struct Candidate(string Value, bool IsPath);

    /// <summary>
    /// Candidates in Confluent.Kafka's order: the package's default build, then the distro-specific
    /// fallbacks, first under <c>runtimes/&lt;rid&gt;/native</c> (framework-dependent output), then directly in
    /// the base directory (RID-specific publish flattens the files there), finally the OS search path.
    /// </summary>
    private static IEnumerable<Candidate> Candidates()
    {
        var baseDir = AppContext.BaseDirectory;
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            Architecture.X86 => "x86",
            var other => other.ToString().ToLowerInvariant(),
        };

        string os;
        string[] fileNames;
        if (OperatingSystem.IsLinux())
        {
            os = "linux";
            fileNames = ["librdkafka.so", "centos8-librdkafka.so", "alpine-librdkafka.so"];
        }
        else if (OperatingSystem.IsMacOS())
        {
            os = "osx";
            fileNames = ["librdkafka.dylib"];
        }
        else if (OperatingSystem.IsWindows())
        {
            os = "win";
            fileNames = ["librdkafka.dll"];
        }
        else
        {
            os = "unknown";
            fileNames = [];
        }

        var nativeDir = Path.Combine(baseDir, "runtimes", $"{os}-{arch}", "native");
        foreach (var name in fileNames)
        {
            yield return new Candidate(Path.Combine(nativeDir, name), IsPath: true);
        }

        foreach (var name in fileNames)
        {
            yield return new Candidate(Path.Combine(baseDir, name), IsPath: true);
        }

        yield return new Candidate(LibRdKafka.LibraryName, IsPath: false);
    }
}
