using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BreakGlassBot.Benchmarks;

/// <summary>
/// Slack's Web API as the load script needs it: every method answers ok with the fields the bot reads.
/// No state, no checks: it stands in for Slack so the bot's outbox does its real work against loopback.
/// </summary>
public static class FakeSlackApi
{
    static long ts = 1_700_000_000_000_000;
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> calls = new();

    public static async Task RunAsync(string url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        app.MapGet("/healthz", () => "ok");
        app.MapPost("/response/{id}", () => Results.Ok());
        app.MapPost("/api/{method}", (string method) =>
        {
            calls.AddOrUpdate(method, 1, (_, n) => n + 1);
            return Results.Text(Answer(method).ToJsonString(), "application/json");
        });
        // How many calls of each method so far: the load script's drain check (follow-ups done once each after a burst).
        app.MapGet("/stats", () => Results.Json(calls.ToDictionary()));
        await app.RunAsync();
    }

    static string NextTs()
    {
        var n = Interlocked.Increment(ref ts);
        return $"{n / 1_000_000}.{n % 1_000_000:D6}";
    }

    public static JsonObject Answer(string method) => method switch
    {
        "chat.postMessage" or "chat.update" => new() { ["ok"] = true, ["channel"] = "C0BENCH", ["ts"] = NextTs() },
        "chat.getPermalink" => new() { ["ok"] = true, ["channel"] = "C0BENCH", ["permalink"] = "https://example.slack.com/archives/C0BENCH/p1" },
        "conversations.open" => new() { ["ok"] = true, ["channel"] = new JsonObject { ["id"] = "D0BENCH" } },
        "conversations.history" or "conversations.replies" => new() { ["ok"] = true, ["messages"] = new JsonArray(), ["has_more"] = false },
        "usergroups.users.list" => new() { ["ok"] = true, ["users"] = new JsonArray("U0REVIEW1", "U0REVIEW2") },
        "auth.test" => new() { ["ok"] = true, ["user_id"] = "U0BOT", ["bot_id"] = "B0BOT", ["team_id"] = "T0001" },
        // Everyone is a full member (the guest check before a declaration); the app is the one the load's requests name.
        "users.info" => new() { ["ok"] = true, ["user"] = new JsonObject { ["id"] = "U0BENCH", ["team_id"] = "T0001", ["is_restricted"] = false, ["is_ultra_restricted"] = false } },
        "bots.info" => new() { ["ok"] = true, ["bot"] = new JsonObject { ["id"] = "B0BOT", ["app_id"] = "A0BENCH" } },
        "views.open" or "views.publish" => new() { ["ok"] = true, ["view"] = new JsonObject { ["id"] = "V0BENCH" } },
        _ => new() { ["ok"] = true },
    };
}
