using System.Reflection;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Toolchains;
using BenchmarkDotNet.Toolchains.CsProj;
using BenchmarkDotNet.Toolchains.DotNetCli;

namespace CioSegment.Benchmarks;

/// <summary>
/// BenchmarkDotNet's default .NET 10 toolchain, except for how it finds this project. BenchmarkDotNet
/// assumes the project file is named after the assembly (<c>CioSegment.Benchmarks.csproj</c>), but
/// Directory.Build.props prefixes every assembly name with <c>CioSegment.</c> while the file is
/// <c>Benchmarks.csproj</c>; so the csproj puts its path into the assembly's metadata at build time.
/// </summary>
internal static class ProjectToolchain
{
    public const string ProjectPathKey = "BenchmarkProjectPath";

    public static IToolchain Create()
    {
        // The same settings CsProjCoreToolchain.NetCoreApp10_0 is made from. Their paths are null (meaning
        // "the dotnet on PATH, the default packages folder"), which BenchmarkDotNet's own factory passes
        // on as well; its constructors are just not annotated for it, hence the '!'.
        var settings = NetCoreAppSettings.NetCoreApp10_0;
        return new Toolchain(
            settings.Name,
            new Generator(settings),
            new DotNetCliBuilder(settings.TargetFrameworkMoniker, settings.CustomDotNetCliPath),
            new DotNetCliExecutor(settings.CustomDotNetCliPath!));
    }

    private sealed class Generator(NetCoreAppSettings settings)
        : CsProjGenerator(settings.TargetFrameworkMoniker, settings.CustomDotNetCliPath!, settings.PackagesPath!, settings.RuntimeFrameworkVersion!, isNetCore: true)
    {
        protected override FileInfo GetProjectFilePath(Type benchmarkTarget, ILogger logger)
        {
            var path = benchmarkTarget.Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == ProjectPathKey)?.Value;
            return path is not null && File.Exists(path)
                ? new FileInfo(path)
                : base.GetProjectFilePath(benchmarkTarget, logger);
        }
    }
}
