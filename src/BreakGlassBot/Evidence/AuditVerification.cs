using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;

namespace BreakGlassBot.Evidence;

/// <summary>
/// <c>dotnet run --project src/BreakGlassBot -- verify-audit [--Storage:DataDirectory=...]</c>: recomputes the hash chain
/// of the data file and prints the first event that was altered, removed or inserted. Exit code 0 intact, 1 not intact,
/// 2 bad configuration, no data file, or the directory in use by a running bot. Opens the file read-only; while the bot runs, prefer GET /evidence/verify.
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
}
