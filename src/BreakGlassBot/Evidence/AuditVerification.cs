using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BreakGlassBot.Deadlines;
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
    public const string MigrateStoreCommandName = "migrate-store";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        // --expect SEQ:HASH (repeatable) and --anchors FILE are this command's own; the rest is configuration.
        var anchors = new List<(long Sequence, string Hash, string Label)>();
        var fromFiles = new List<AuditAnchor>();
        X509Certificate2? tsaCert = null;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var (name, value) = args[i].Split('=', 2) is [var n, var v] ? (n, v) : (args[i], i + 1 < args.Length ? args[i + 1] : null);
            if (name is not ("--expect" or "--anchors" or "--tsa-cert"))
            {
                // A misspelt anchor option must not turn into an ignored setting and a clean "intact".
                if (name.StartsWith('-') && (name.Contains("expect", StringComparison.OrdinalIgnoreCase) || name.Contains("anchor", StringComparison.OrdinalIgnoreCase)
                    || name.Contains("tsa", StringComparison.OrdinalIgnoreCase)))
                {
                    await error.WriteLineAsync($"Unknown option {name}: use --expect SEQUENCE:HASH, --anchors FILE or --tsa-cert FILE.");
                    return 2;
                }
                rest.Add(args[i]);
                continue;
            }
            if (!args[i].Contains('=')) i++;
            if (value is null)
            {
                await error.WriteLineAsync($"{name} needs a value");
                return 2;
            }
            if (name == "--expect")
            {
                if (!AnchorCheck.TryParseExpect(value, out var expected))
                {
                    await error.WriteLineAsync($"--expect takes SEQUENCE:HASH (the last_sequence and the 64-hex last_hash of an anchor), not '{value}'");
                    return 2;
                }
                anchors.Add(expected);
                continue;
            }
            if (name == "--tsa-cert")
            {
                // PEM or DER: the timestamping authority's certificate, as the auditor got it from the authority, not from the token.
                try { tsaCert = X509CertificateLoader.LoadCertificateFromFile(value); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
                {
                    await error.WriteLineAsync($"Could not read the certificate in {value}: {e.Message}");
                    return 2;
                }
                continue;
            }
            try
            {
                var read = AuditAnchor.ReadLines(File.ReadLines(value));
                fromFiles.AddRange(read);
                if (read.Count == 0)
                {
                    await error.WriteLineAsync($"{value} holds no anchor: nothing to check the trail against.");
                    return 2;
                }
                // An anchor published for a broken trail still says how long the trail was then; its hash vouches for nothing.
                anchors.AddRange(read.Select(a => (a.LastSequence, a.Intact ? a.LastHash ?? "" : "", $"at {a.Utc:u} ({a.Reason})")));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException)
            {
                await error.WriteLineAsync($"Could not read the anchors in {value}: {e.Message}");
                return 2;
            }
        }
        if (PostgresStore([.. rest]) is { } database)
        {
            // The replicas write while this reads: the engine's check reads one snapshot, so nothing needs stopping.
            try
            {
                using var engine = new PostgresEngine(database, TimeProvider.System, upgrade: false);
                var where = PostgresEngine.Describe(database);
                var chain = engine.VerifyAuditChain();
                var problems = anchors.Count > 0 ? AnchorCheck.Problems(engine.AuditHashes([.. anchors.Select(a => a.Sequence)]), chain.HeadSequence, anchors) : [];
                return await ReportAsync(where, chain, problems);
            }
            catch (Exception e) when (e is StoreUnavailableException or InvalidOperationException or Npgsql.PostgresException)
            {
                await error.WriteLineAsync($"Could not read {PostgresEngine.Describe(database)}: {e.Message}");
                return 2;
            }
        }
        if (await DataFileAsync([.. rest], error) is not var (_, storage, path)) return 2;
        ChainReport report;
        IReadOnlyList<string> anchorProblems = [];
        try
        {
            // The bot's own lock: while a bot writes to this directory, a file-level check could read a half-written page.
            using var directoryLock = DataDirectoryLock.TakeForReading(storage.ResolvedDataDirectory);
            report = AuditChain.VerifyFile(path);
            if (anchors.Count > 0) anchorProblems = AnchorCheck.Problems(AuditChain.HashesFromFile(path, [.. anchors.Select(a => a.Sequence)]), report.HeadSequence, anchors);
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
        return await ReportAsync(path, report, anchorProblems);

        async Task<int> ReportAsync(string where, ChainReport report, IReadOnlyList<string> anchorProblems)
        {
            await (report.Trustworthy ? output : error).WriteLineAsync($"{where}: {report.Describe()}");
            foreach (var problem in anchorProblems) await error.WriteLineAsync($"{where}: anchor NOT matched: {problem}");
            if (anchors.Count > 0 && anchorProblems.Count == 0) await output.WriteLineAsync($"{where}: all {anchors.Count} anchor(s) match");
            var timestampsOk = await CheckTimestampsAsync(fromFiles, tsaCert, output, error);
            return report.Trustworthy && anchorProblems.Count == 0 && timestampsOk ? 0 : 1;
        }
    }

    /// <summary>The PostgreSQL connection string when the configuration puts the store there, else null.</summary>
    static string? PostgresStore(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var storage = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new();
        return storage.Store == StoreKind.PostgreSql && !string.IsNullOrWhiteSpace(storage.ConnectionString) ? storage.ConnectionString : null;
    }

    /// <summary>
    /// <c>migrate-store --to "&lt;connection string&gt;"</c>, with the bot stopped: the configured data directory into an empty
    /// PostgreSQL database. Exits 0 when the copy verifies exactly as the file does, 1 when it does not, 2 when nothing was copied.
    /// </summary>
    public static async Task<int> RunMigrateStoreAsync(string[] args, TextWriter output, TextWriter error, TimeProvider time)
    {
        var to = args.Select((a, i) => a.StartsWith("--to=", StringComparison.Ordinal) ? a[5..] : a == "--to" && i + 1 < args.Length ? args[i + 1] : null)
            .FirstOrDefault(v => v is not null);
        var rest = args.Where((a, i) => !a.StartsWith("--to", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--to")).ToArray();
        if (string.IsNullOrWhiteSpace(to))
        {
            await error.WriteLineAsync("Say where to: migrate-store --to \"Host=…;Database=…;Username=…\" (an empty PostgreSQL database).");
            return 2;
        }
        if (await DataFileAsync(rest, error) is not var (_, storage, path)) return 2;
        var target = PostgresEngine.Describe(to);
        try
        {
            // Taken, not only read: no bot may start on the directory while it is being moved.
            using var directoryLock = DataDirectoryLock.Take(storage.ResolvedDataDirectory);
            var result = StoreMigration.Migrate(path, to, time);
            await output.WriteLineAsync($"{path}: {result.Source.Describe()}");
            await (result.Matches ? output : error).WriteLineAsync($"{target}: {result.Target.Describe()}");
            await output.WriteLineAsync($"copied {result.TargetCounts.Changes} change(s) (last BG-{result.TargetCounts.LastChange}), {result.TargetCounts.AuditEvents} audit event(s), "
                + $"{result.TargetCounts.Documents} document(s), {result.TargetCounts.People} linked account(s), {result.TargetCounts.Inbox} pending Slack event(s)");
            foreach (var difference in result.Differences) await error.WriteLineAsync("MISMATCH: " + difference);
            if (result.Matches) await output.WriteLineAsync($"Set Storage:Store=PostgreSql and Storage:ConnectionString to {target}, then start the replicas.");
            return result.Matches ? 0 : 1;
        }
        catch (DataDirectoryInUseException)
        {
            await error.WriteLineAsync($"{storage.ResolvedDataDirectory} is in use by a running bot: stop it first.");
            return 2;
        }
        catch (Exception e) when (e is StoreNotEmptyException or StoreUnavailableException or InvalidOperationException or Npgsql.NpgsqlException)
        {
            await error.WriteLineAsync($"{target}: nothing was copied: {e.Message}");
            return 2;
        }
    }

    /// <summary>
    /// Each anchor's RFC 3161 token must stamp that anchor as it reads now and verify; an anchor the authority could not
    /// stamp is said, not failed (the bot published it unstamped rather than late). False when a token does not hold.
    /// </summary>
    static async Task<bool> CheckTimestampsAsync(IReadOnlyList<AuditAnchor> anchors, X509Certificate2? pinned, TextWriter output, TextWriter error)
    {
        var ok = true;
        var stamped = 0;
        foreach (var anchor in anchors)
        {
            var label = $"anchor #{anchor.LastSequence} at {anchor.Utc:u} ({anchor.Reason})";
            if (anchor.Rfc3161 is null)
            {
                if (anchor.Rfc3161Error is { } why) await output.WriteLineAsync($"{label}: no RFC 3161 timestamp ({why})");
                continue;
            }
            stamped++;
            var (valid, detail) = AnchorTimestamp.Verify(anchor, pinned);
            await (valid ? output : error).WriteLineAsync(valid ? $"{label}: timestamp verified, {detail}" : $"{label}: timestamp NOT valid: {detail}");
            ok &= valid;
        }
        // A pinned certificate with nothing to check it against must not read as a clean pass.
        if (pinned is not null && stamped == 0)
        {
            await error.WriteLineAsync("--tsa-cert was given but no anchor carries an RFC 3161 timestamp.");
            return false;
        }
        return ok;
    }

    public const string MigrateCommandName = "migrate-audit";

    /// <summary>
    /// <c>migrate-audit --reason "…"</c>: chains a trail the bot refused to start on (no chain marker), with the bot
    /// stopped, and records who did it and why as the trail's next event. Exits 0 done, 2 refused.
    /// </summary>
    public static async Task<int> RunMigrateAsync(string[] args, TextWriter output, TextWriter error, TimeProvider time)
    {
        if (await DataFileAsync(args, error) is not var (configuration, storage, path)) return 2;
        var reason = configuration["reason"];
        if (string.IsNullOrWhiteSpace(reason))
        {
            await error.WriteLineAsync("Say why, for the record: migrate-audit --reason \"<why the trail is chained again>\".");
            return 2;
        }
        try
        {
            using var directoryLock = DataDirectoryLock.Take(storage.ResolvedDataDirectory);
            var actor = "operator:" + Environment.UserName;
            var migrated = AuditChain.MigrateFile(path, actor, reason.Trim(), time.GetUtcNow());
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

    /// <summary>The bot's configuration as the command line gives it, and its data file; null (said on <paramref name="error"/>) when unusable.</summary>
    static async Task<(IConfiguration Configuration, StorageOptions Storage, string Path)?> DataFileAsync(string[] args, TextWriter error)
    {
        var builder = WebApplication.CreateBuilder(args);
        try { builder.AddBotConfiguration(); }
        catch (BotConfigurationException e)
        {
            await error.WriteLineAsync(e.Message);
            return null;
        }
        var storage = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new();
        var path = Path.Combine(storage.ResolvedDataDirectory, "breakglass.db");
        if (File.Exists(path)) return (builder.Configuration, storage, path);
        await error.WriteLineAsync($"No data file at {path} (set Storage:DataDirectory).");
        return null;
    }
}
