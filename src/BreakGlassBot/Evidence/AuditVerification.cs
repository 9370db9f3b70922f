using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Evidence;

/// <summary>
/// <c>verify-audit</c>: recomputes the data file's hash chain read-only and prints the first altered, removed or inserted
/// event. Exits 0 intact, 1 not intact, 2 unusable (bad configuration, no file, a running bot's directory).
/// </summary>
public static class AuditVerification
{
    public const string CommandName = "verify-audit";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var builder = WebApplication.CreateBuilder(args);
        try { builder.AddBotConfiguration(); }
        catch (BotConfigurationException e)
        {
            await error.WriteLineAsync(e.Message);
            return 2;
        }
        var storage = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new();
        var path = Path.Combine(storage.ResolvedDataDirectory, "breakglass.db");
        if (!File.Exists(path))
        {
            await error.WriteLineAsync($"No data file at {path} (set Storage:DataDirectory).");
            return 2;
        }
        ChainReport report;
        try
        {
            // The bot's own lock: while a bot writes to this directory, a file-level check could read a half-written page.
            using var directoryLock = DataDirectoryLock.TakeForReading(storage.ResolvedDataDirectory);
            report = AuditChain.VerifyFile(path);
        }
        catch (DataDirectoryInUseException)
        {
            await error.WriteLineAsync($"{storage.ResolvedDataDirectory} is in use by a running bot: ask it instead (GET /evidence/verify with an Evidence:ApiKeys key), or stop it first.");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or LiteDB.LiteException)
        {
            await error.WriteLineAsync($"Could not read {path}: {e.Message}");
            return 2;
        }
        await (report.Intact ? output : error).WriteLineAsync($"{path}: {report.Describe()}");
        return report.Intact ? 0 : 1;
    }

    public const string MigrateCommandName = "migrate-audit";

    /// <summary>
    /// <c>migrate-audit --reason "…"</c>: chains a trail the bot refused to start on (no chain marker), with the bot
    /// stopped, and records who did it and why as the trail's next event. Exits 0 done, 2 refused.
    /// </summary>
    public static async Task<int> RunMigrateAsync(string[] args, TextWriter output, TextWriter error)
    {
        var builder = WebApplication.CreateBuilder(args);
        try { builder.AddBotConfiguration(); }
        catch (BotConfigurationException e)
        {
            await error.WriteLineAsync(e.Message);
            return 2;
        }
        var reason = builder.Configuration["reason"];
        if (string.IsNullOrWhiteSpace(reason))
        {
            await error.WriteLineAsync("Say why, for the record: migrate-audit --reason \"<why the trail is chained again>\".");
            return 2;
        }
        var storage = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new();
        var path = Path.Combine(storage.ResolvedDataDirectory, "breakglass.db");
        if (!File.Exists(path))
        {
            await error.WriteLineAsync($"No data file at {path} (set Storage:DataDirectory).");
            return 2;
        }
        try
        {
            using var directoryLock = DataDirectoryLock.Take(storage.ResolvedDataDirectory);
            var actor = "operator:" + Environment.UserName;
            var migrated = AuditChain.MigrateFile(path, actor, reason.Trim(), DateTimeOffset.UtcNow);
            await output.WriteLineAsync($"{path}: chained {migrated} event(s) from genesis; recorded as {AuditChain.MigratedType} by {actor}.");
            return 0;
        }
        catch (DataDirectoryInUseException)
        {
            await error.WriteLineAsync($"{storage.ResolvedDataDirectory} is in use by a running bot: stop it first.");
            return 2;
        }
        catch (InvalidOperationException e)
        {
            await error.WriteLineAsync(e.Message);
            return 2;
        }
    }
}
