using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace BreakGlassBot.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL server on 127.0.0.1 for the tests that need one: Debian's package (installed with
/// apt-get when missing and running as root), a fresh cluster in a temp directory, trust auth on loopback,
/// stopped and deleted afterwards. BGB_TEST_POSTGRES (a connection string) uses an existing server instead.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    string? dataDir;
    string? binDir;
    int port;
    public string ConnectionString { get; private set; } = "";
    /// <summary>False: always a server of its own, even when BGB_TEST_POSTGRES names one (a test that kills and restarts it).</summary>
    public bool UseExternal { get; init; } = true;

    public async Task InitializeAsync()
    {
        var external = UseExternal ? Environment.GetEnvironmentVariable("BGB_TEST_POSTGRES") : null;
        if (!string.IsNullOrWhiteSpace(external)) { ConnectionString = external; return; }

        binDir = FindBin() ?? (await InstallAsync() ? FindBin() : null)
            ?? throw new InvalidOperationException("PostgreSQL is not installed and could not be installed (apt-get install postgresql as root), and BGB_TEST_POSTGRES is not set.");
        dataDir = Path.Combine(Path.GetTempPath(), "bgb-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        port = FreePort();
        var asRoot = Environment.UserName == "root";
        if (asRoot) await RunAsync("chown", null, "postgres:postgres", dataDir);
        await RunAs(asRoot, $"{binDir}/initdb -D {dataDir}/db -A trust -U postgres --no-sync");
        await StartAsync();
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=false";
    }

    /// <summary>Starts the server (again) on its port and data directory; returns once it accepts connections.</summary>
    public Task StartAsync() => RunAs(Environment.UserName == "root",
        $"{OwnBin()}/pg_ctl -D {dataDir}/db -l {dataDir}/log -w -o \"-p {port} -k {dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=1000\" start");

    /// <summary>
    /// Kills the server as a crash or a failover does (<c>pg_ctl -m immediate</c>: no checkpoint, every connection cut); the
    /// data directory stays, and <see cref="StartAsync"/> recovers it.
    /// </summary>
    public Task StopAsync() => RunAs(Environment.UserName == "root", $"{OwnBin()}/pg_ctl -D {dataDir}/db -m immediate stop");

    string OwnBin() => dataDir is not null && binDir is not null ? binDir
        : throw new InvalidOperationException("Only a server this class started can be stopped and started (not BGB_TEST_POSTGRES).");

    /// <summary>A new empty database on the server, for one test.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = "bgb_" + Guid.NewGuid().ToString("N");
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
        await cmd.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        if (dataDir is null) return;
        try { await RunAs(Environment.UserName == "root", $"{binDir}/pg_ctl -D {dataDir}/db -m immediate stop"); } catch (InvalidOperationException) { }
        try { Directory.Delete(dataDir, true); } catch (IOException) { }
    }

    static string? FindBin() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).Order().LastOrDefault()
            : null;

    static async Task<bool> InstallAsync()
    {
        if (Environment.UserName != "root") return false;
        try
        {
            await RunAsync("apt-get", null, "update", "-qq");
            await RunAsync("apt-get", ("DEBIAN_FRONTEND", "noninteractive"), "install", "-y", "-qq", "postgresql");
            return true;
        }
        catch (InvalidOperationException) { return false; }
    }

    static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    // initdb refuses to run as root: as root, run the server as the postgres user.
    static Task RunAs(bool asRoot, string command) =>
        asRoot ? RunAsync("su", null, "postgres", "-s", "/bin/sh", "-c", command) : RunAsync("/bin/sh", null, "-c", command);

    static async Task RunAsync(string file, (string, string)? env, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is { } e) psi.Environment[e.Item1] = e.Item2;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {await stderr} {await stdout}");
    }
}

/// <summary>Tests on the shared PostgreSQL server; run alone (real-time Hangfire scheduling), after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
