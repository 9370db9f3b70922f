using System.Net;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Reliability;

/// <summary>
/// Every route the bot maps, found from its endpoint table (so a route added later is covered without editing this
/// test), called anonymously outside Development: only /healthz answers; Slack's routes want Slack's signature,
/// GitHub's webhook GitHub's, evidence a key; the sandbox and its stand-ins are not there at all.
/// </summary>
[Trait("Category", "EndToEnd")]
public class AccessTests : BotTest
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["GitHub:Token"] = "ghp_access-test-token",
        ["GitHub:WebhookSecret"] = "webhook-secret-for-access-test",
        ["Evidence:ApiKeys:0"] = "evidence-key-for-access-test-0001",
    };

    // Liveness and readiness: what an orchestrator probes without credentials; they say nothing about any change.
    static readonly string[] Public = ["/healthz", "/readyz"];

    [Fact]
    public async Task NoRouteButHealthAnswersAnAnonymousCallerOutsideDevelopment()
    {
        await Bot.CommandJsonAsync("Hotfix checkout"); // something to leak, if anything could
        var routes = Bot.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Method: m, Pattern: e.RoutePattern.RawText ?? "")))
            .Distinct().ToList();
        Assert.Contains(routes, r => r.Pattern == "/slack/commands");
        Assert.Contains(routes, r => r.Pattern.StartsWith("/evidence"));
        Assert.DoesNotContain(routes, r => r.Pattern.StartsWith("/sandbox") || r.Pattern.Contains("/api/") || r.Pattern == "/");

        var answered = new List<string>();
        foreach (var (method, pattern) in routes)
        {
            var path = System.Text.RegularExpressions.Regex.Replace(pattern, @"\{[^}]+\}", "BG-1");
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method != "GET") request.Content = new StringContent("payload=%7B%7D&text=cancel+BG-1", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
            using var response = await Bot.Http.SendAsync(request);
            var status = (int)response.StatusCode;
            Assert.True(status < 500, $"{method} {path} answered {status}");
            if (status is >= 200 and < 300) answered.Add($"{method} {path}");
            if (!Public.Contains(pattern)) Assert.True(status is 401 or 403, $"{method} {path} answered {status} to an anonymous caller");
        }
        Assert.Equal(["GET /healthz", "GET /readyz"], answered.Order());
        Assert.Equal(ChangeStatus.Open, Bot.Store.Get(1)!.Status); // the anonymous "cancel BG-1" did nothing
        Assert.Equal(1, Bot.Store.Count());
    }

    [Fact]
    public async Task TheJobDashboardIsNotServedToAnAnonymousCaller()
    {
        var response = await Bot.Http.GetAsync("/hangfire");
        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.NotFound, $"/hangfire answered {(int)response.StatusCode}");
        var json = await Bot.Http.GetAsync("/hangfire/stats");
        Assert.True(json.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.NotFound, $"/hangfire/stats answered {(int)json.StatusCode}");
    }
}
