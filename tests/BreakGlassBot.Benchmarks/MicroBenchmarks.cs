using System.Text;
using BenchmarkDotNet.Attributes;
using BreakGlassBot.Declaring;
using BreakGlassBot.Digest;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Slack;

namespace BreakGlassBot.Benchmarks;

static class Samples
{
    public const string Secret = "bench-signing-secret";
    public const string Timestamp = "1764300000";
    public static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1764300000);
    public const string CommandText = "Roll back payments deploy after error spike https://github.com/acme/payments/pull/4242 OPS-17";
    public static readonly string CommandForm =
        "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&channel_name=ops-incidents"
        + "&user_id=U2147483697&user_name=oncall&command=%2Fbreakglass&text=" + Uri.EscapeDataString(CommandText).Replace("%20", "+")
        + "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1234567890%2FabcdefABCDEF0123456789"
        + "&trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";
    public const string ActionJson =
        """{"type":"block_actions","user":{"id":"U2147483697","username":"oncall","team_id":"T0001"},"api_app_id":"A123456","trigger_id":"1.2.3","response_url":"https://hooks.slack.com/actions/T0001/1/abc","container":{"type":"message","message_ts":"1700000000.000001","channel_id":"C0BENCH","is_ephemeral":false},"channel":{"id":"C0BENCH","name":"changes"},"message":{"ts":"1700000000.000001","text":"BG-1"},"actions":[{"action_id":"breakglass_details","block_id":"breakglass_review","value":"BG-1","type":"button","action_ts":"1700000001.000001"}]}""";
    public static readonly string ActionForm = "payload=" + Uri.EscapeDataString(ActionJson);

    public static EmergencyChange Change() => new()
    {
        Id = 4242, DeclaredBy = "U2147483697", DeclaredByName = "oncall", Summary = "Roll back payments deploy after error spike",
        DeclaredAt = Now, DueAt = Now.AddHours(48), DeclaredInChannel = "C2147483705",
        PullRequests = [new LinkedPullRequest { Owner = "acme", Repo = "payments", Number = 4242, Title = "Revert #4200" }],
        JiraIssues = [new LinkedJiraIssue { Key = "OPS-17" }],
        Announcement = new Announcement { Channel = "C0BENCH", Ts = "1700000000.000001", Permalink = "https://example.slack.com/archives/C0BENCH/p1" },
    };
}

[MemoryDiagnoser]
public class SignatureBenchmarks
{
    readonly byte[] secret = Encoding.UTF8.GetBytes(Samples.Secret);
    readonly byte[] body = Encoding.UTF8.GetBytes(Samples.CommandForm);
    string signature = "";

    [GlobalSetup] public void Setup() => signature = SlackSignature.Compute(Samples.Secret, Samples.Timestamp, body);

    [Benchmark] public SignatureCheck Verify() =>
        SlackSignature.Verify(secret, Samples.Timestamp, signature, body, Samples.Now, TimeSpan.FromMinutes(5));
}

[MemoryDiagnoser]
public class ParsingBenchmarks
{
    static readonly LinkHosts Hosts = LinkHosts.From("https://github.com", null);

    [Benchmark] public SlashCommand? SlashCommandForm() => SlashCommand.TryParse(Samples.CommandForm, out var c) ? c : null;
    [Benchmark] public InteractionPayload? BlockActionsPayload() => InteractionPayload.TryParse(Samples.ActionForm, out var p) ? p : null;
    [Benchmark] public DeclarationText DeclarationLinks() => DeclarationText.Parse(Samples.CommandText, Hosts);
    [Benchmark] public bool PullRequestUrl() => PullRequestRef.TryParse("https://github.com/acme/payments/pull/4242", out _);
}

[MemoryDiagnoser]
public class RenderingBenchmarks
{
    readonly ChangeMessages messages = StoreFixture.Messages();
    readonly EmergencyChange change = Samples.Change();
    readonly List<EmergencyChange> overdue = [.. Enumerable.Range(1, 200).Select(i =>
    {
        var c = Samples.Change(); c.Id = i; c.DueAt = Samples.Now.AddHours(-i); return c;
    })];
    DigestBuilder digest = null!;

    [GlobalSetup] public void Setup() => digest = new DigestBuilder(messages);

    [Benchmark] public string Announcement() => messages.Announcement(change, Samples.Now).Blocks!.ToJsonString();
    [Benchmark] public string Confirmation() => messages.Confirmation(change).Text;
    [Benchmark] public string StatusBlocks() => messages.StatusBlocks(change, Samples.Now).ToJsonString();
    [Benchmark] public string Digest200Overdue() => digest.Build(overdue, Samples.Now.AddHours(1)).Blocks!.ToJsonString();
}

[MemoryDiagnoser]
public class ReviewPolicyBenchmarks
{
    readonly ReviewPolicy plain = StoreFixture.Policy();
    readonly ReviewPolicy business = StoreFixture.Policy(businessHours: true);
    readonly DateTimeOffset friday = new(2026, 11, 27, 16, 30, 0, TimeSpan.Zero);

    [Benchmark] public DateTimeOffset DueAtPlain() => plain.DueAt(friday);
    [Benchmark] public DateTimeOffset DueAtBusinessHours() => business.DueAt(friday);
    [Benchmark] public DateTimeOffset NextReminderBusinessHours() => business.NextReminderAt(friday);
}

/// <summary>100,000 stored changes, 10,000 open (2,000 overdue, 1,000 with a lost tracking check).</summary>
[MemoryDiagnoser]
public class StoreBenchmarks
{
    StoreFixture fixture = null!;
    DigestBuilder digest = null!;

    [GlobalSetup] public void Setup() { fixture = new StoreFixture(); digest = new DigestBuilder(StoreFixture.Messages()); }
    [GlobalCleanup] public void Cleanup() => fixture.Dispose();

    [Benchmark] public int Overdue() => fixture.Store.Overdue(StoreFixture.Now).Count;
    [Benchmark] public int OpenChanges() => fixture.Store.OpenChanges().Count;
    [Benchmark] public int UntrackedOpenChanges() => fixture.Store.UntrackedOpenChanges(StoreFixture.Now).Count;
    [Benchmark] public int OpenChangesOfOneUser() => fixture.Store.OpenChangesOf("U000007").Count;
    [Benchmark] public int Digest() => fixture.Digest(digest).Blocks?.Count ?? 0;
    [Benchmark] public EmergencyChange? ById() => fixture.Store.Get(95_000);
}
