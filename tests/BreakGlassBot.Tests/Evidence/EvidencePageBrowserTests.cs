using System.Net;
using System.Net.Http.Headers;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static BreakGlassBot.Tests.Evidence.EvidenceHistoryTests;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>The HTML packet as Debian's headless Chromium renders it.</summary>
[Collection(SerialCollection.Name)] // a browser and real-time Hangfire: run alone
public class EvidencePageBrowserTests(Chromium chromium) : BotTest, IClassFixture<Chromium>
{
    const string Hostile = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Slack:Reviewers:0"] = Reviewer1,
        ["Evidence:ApiKeys:0"] = Key0,
    };

    [Fact]
    public async Task TheHtmlPacketRendersInABrowserWithTheFactsAndNothingUsersTypedRuns()
    {
        await Bot.CommandJsonAsync("Roll back payments deploy https://github.com/acme/pay/pull/42");
        await Eventually.Until(() => Bot.Store.Get(1)!.Announcement is not null, "announced");
        Bot.Store.Update(1, c => { c.Justification = "Checkout down " + Hostile; return []; }); // as typed in the modal
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer1, ReviewActions.Approve, "BG-1"));
        await Eventually.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed", TimeSpan.FromSeconds(40));

        // The bot's own answer: HTML by Accept header, with a policy that forbids scripts and external assets.
        var direct = await Bot.Http.SendAsync(Get("/evidence/BG-1", key: Key0, accept: "text/html"));
        Assert.Equal("text/html", direct.Content.Headers.ContentType!.MediaType);
        Assert.Contains("default-src 'none'", direct.Headers.GetValues("Content-Security-Policy").Single());
        var html = await direct.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<img", html);

        // --dump-dom cannot send headers: a loopback proxy adds the key, so the key never appears in a URL.
        await using var proxy = await AuthorizingProxy.StartAsync(Bot.Url, Key0);
        var dom = await chromium.DumpDomAsync(proxy.Url + "/evidence/BG-1?format=html");

        Assert.Contains("<title>BG-1 evidence packet</title>", dom);
        Assert.Contains("BG-1: Roll back payments deploy", dom);
        Assert.Contains($"Declared by</th><td>{TestBot.Declarer} (u0declarer)", dom);
        Assert.Matches($@"<td>{Reviewer1} \(u0rev1\)</td><td><time datetime=""[^""]+"">[^<]+ UTC</time></td><td>yes</td>", dom);
        Assert.Contains("Verdict: reviewed on time", dom);
        Assert.Contains("href=\"https://github.com/acme/pay/pull/42\"", dom);
        Assert.Contains("Checkout down &lt;img src=x onerror=\"document.title='pwned'\"&gt;&lt;script&gt;", dom); // shown as text
        Assert.DoesNotContain("pwned</title>", dom);
        Assert.DoesNotContain("<script", dom);
        Assert.DoesNotContain("<img", dom);
        Assert.Equal(1, proxy.Forwarded);
    }

    /// <summary>A loopback reverse proxy that adds Authorization: Bearer to every GET it forwards.</summary>
    sealed class AuthorizingProxy : IAsyncDisposable
    {
        WebApplication app = null!;
        int forwarded;
        public string Url { get; private set; } = "";
        public int Forwarded => forwarded;

        public static async Task<AuthorizingProxy> StartAsync(string target, string key)
        {
            var proxy = new AuthorizingProxy();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var http = new HttpClient { BaseAddress = new Uri(target) };
            app.Run(async context =>
            {
                if (context.Request.Path == "/favicon.ico") { context.Response.StatusCode = 404; return; }
                Interlocked.Increment(ref proxy.forwarded);
                using var request = new HttpRequestMessage(HttpMethod.Get, context.Request.Path + context.Request.QueryString);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var response = await http.SendAsync(request);
                context.Response.StatusCode = (int)response.StatusCode;
                context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                await response.Content.CopyToAsync(context.Response.Body);
            });
            await app.StartAsync();
            proxy.app = app;
            proxy.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return proxy;
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }
}
