namespace CioSegment.Tests;

/// <summary>
/// Where the repository is (the folder holding CioSegment.sln, above the test binaries), and a free loopback
/// port. Compiled into each test project (linked from tests/Shared).
/// </summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>A path below the repository root, written with forward slashes.</summary>
    public static string InRoot(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago, for a process started with <c>--urls</c>.</summary>
    public static int FreeLoopbackPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CioSegment.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("CioSegment.sln not found above " + AppContext.BaseDirectory);
    }
}
