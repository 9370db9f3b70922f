using BreakGlassBot.Deadlines;
using BreakGlassBot.Declaring;
using BreakGlassBot.Detection;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Evidence;
using BreakGlassBot.GitHub;
using BreakGlassBot.Hosting;
using BreakGlassBot.Jira;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Sandbox;
using BreakGlassBot.Slack;

public static partial class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is [AuditVerification.CommandName, ..]) return await AuditVerification.RunAsync(args[1..], Console.Out, Console.Error);
        if (args is [AuditVerification.MigrateStoreCommandName, ..]) return await AuditVerification.RunMigrateStoreAsync(args[1..], Console.Out, Console.Error, TimeProvider.System);
        if (args is [AuditVerification.MigrateCommandName, ..]) return await AuditVerification.RunMigrateAsync(args[1..], Console.Out, Console.Error, TimeProvider.System);
        WebApplication app;
        try { app = Create(args); }
        catch (BotConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
        try
        {
            // Open the store (taking the directory lock) before the host starts: a directory in use is one plain sentence.
            app.Services.GetRequiredService<ChangeStore>();
            await app.RunAsync();
        }
        catch (DataDirectoryInUseException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 3;
        }
        catch (AuditChainUnsealedException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 4;
        }
        return 0;
    }

    /// <summary>The table of contents. Tests call this too, with their own arguments and boundary overrides.</summary>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddSandbox(args);
        builder.AddBotConfiguration();
        builder.AddStorage();
        builder.AddSlack();
        builder.AddOutbox();
        builder.AddDeclaring();
        builder.AddDeadlines();
        builder.AddReviewing();
        builder.AddJira();
        builder.AddGitHub();
        builder.AddDetection();
        builder.AddDigest();
        builder.AddEvidence();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapHealth();
        app.MapSlack();
        app.MapDeadlines();
        app.MapGitHub();
        app.MapSandbox();
        app.MapEvidence();
        return app;
    }
}
