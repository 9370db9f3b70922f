using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static BreakGlassBot.Tests.Evidence.EvidenceHistoryTests;

namespace BreakGlassBot.Tests.Evidence;

/// <summary>The HTML packet as Debian's headless Chromium renders it.</summary>
[Collection(SerialCollection.Name)] // a browser and real-time Hangfire: run alone
[Trait("Category", "EndToEnd")]
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
        // The facts the GitHub and Jira integrations record (EvidenceHistoryTests builds them through the real steps;
        // here only their rendering matters), and a reminder the tracker decided.
        var declared = Bot.Store.Get(1)!.DeclaredAt;
        var granted = declared.AddSeconds(1);
        Bot.Store.Update(1, c =>
        {
            c.Bypass = new Bypass { Mode = "Team", Team = "acme/emergency-merge", Login = "decl-gh", GrantedAt = granted, ExpiresAt = granted.AddHours(2), RevokedAt = granted.AddMinutes(30) };
            var pr = c.PullRequests[0];
            (pr.AuthorLogin, pr.Merged, pr.MergedAt, pr.ApprovedBy, pr.ApprovedById, pr.ApprovedAt) = ("octocat", true, granted.AddMinutes(5), "hubot", 2, granted.AddMinutes(6));
            c.JiraIssues.Add(new LinkedJiraIssue { Key = "OPS-7", Status = "Reopened", StatusCategory = "indeterminate", FetchedAt = granted.AddMinutes(9),
                StatusAtReview = "Done", StatusCategoryAtReview = "done", StatusAtReviewAsOf = granted.AddMinutes(7) });
            c.Reminders.Add(new Reminder { User = Reviewer1, At = granted.AddMinutes(2), Kind = "reminder", Number = 1 });
            return [];
        });
        await Bot.InteractionAsync(ApprovalTests.Click(Reviewer1, ReviewActions.Approve, "BG-1"));
        await Eventually.Until(() => Bot.Store.Get(1)!.Status == ChangeStatus.Reviewed, "reviewed", TimeSpan.FromSeconds(40));

        // The bot's own answer: HTML by Accept header, with a policy that forbids scripts and external assets.
        var direct = await Bot.Http.SendAsync(Get("/evidence/BG-1", key: Key0, accept: "text/html"));
        Assert.Equal("text/html", direct.Content.Headers.ContentType!.MediaType);
        Assert.Contains("default-src 'none'", direct.Headers.GetValues("Content-Security-Policy").Single());
        var html = await direct.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("id=\"sandbox-banner\"", html); // only packets made in the sandbox carry it

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

        // Each section, with its values.
        var change = Bot.Store.Get(1)!;
        var policy = Bot.Store.AuditTrail(1).First(e => e.Type == AuditTypes.Declared).Data["policy"];
        var bypass = Section(dom, "bypass");
        Assert.Contains("<th>Mode</th><td>Team</td>", bypass);
        Assert.Contains("<th>Granted</th><td>acme/emergency-merge to decl-gh</td>", bypass);
        Assert.Contains($"<th>Start</th><td>{Time(granted)}</td>", bypass);
        Assert.Contains($"<th>Expires</th><td>{Time(granted.AddHours(2))}</td>", bypass);
        Assert.Contains($"<th>End</th><td>{Time(granted.AddMinutes(30))} (30m)</td>", bypass);
        var deadline = Section(dom, "deadline");
        Assert.Contains($"<th>Due</th><td>{Time(change.DueAt)}</td>", deadline);
        Assert.Contains($"<th>Policy</th><td>{System.Net.WebUtility.HtmlEncode(policy)} (recorded at declaration)</td>", deadline);
        Assert.Contains($"<th>Reviewed</th><td>{Time(change.ReviewedAt!.Value)}</td>", deadline);
        var reminders = Section(dom, "reminders");
        Assert.Contains($"<td>1</td><td>reminder</td><td>{Reviewer1}</td><td>{Time(granted.AddMinutes(2))}</td><td>not delivered</td>", reminders);
        var prs = Section(dom, "pull-requests");
        Assert.Contains("<td>octocat</td>", prs);
        Assert.Contains($"<td>merged {Time(granted.AddMinutes(5))}</td>", prs);
        Assert.Contains($"<td>hubot at {Time(granted.AddMinutes(6))}</td>", prs);
        var issues = Section(dom, "jira-issues");
        Assert.Contains($"<td>Done (done) ({Time(granted.AddMinutes(7))})</td>", issues);
        Assert.Contains($"<td>Reopened (indeterminate) ({Time(granted.AddMinutes(9))})</td>", issues);
        Assert.Matches(@"^<p class=""verdict reviewed_on_time"" id=""verdict"">Verdict: reviewed on time \([^)]+ before the deadline\)</p>$",
            Regex.Match(dom, @"<p class=""verdict[^>]*>[^<]*</p>").Value);
    }

    /// <summary>The HTML from the section's heading to the next heading.</summary>
    static string Section(string dom, string id)
    {
        var start = dom.IndexOf($"<h2 id=\"{id}\">", StringComparison.Ordinal);
        Assert.True(start >= 0, $"section {id} rendered");
        var end = dom.IndexOf("<h2", start + 4, StringComparison.Ordinal);
        return end < 0 ? dom[start..] : dom[start..end];
    }

    static string Time(DateTimeOffset t) => $"<time datetime=\"{t.UtcDateTime:O}\">{BreakGlassBot.Evidence.EvidenceBuilder.Time(t)}</time>";

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
