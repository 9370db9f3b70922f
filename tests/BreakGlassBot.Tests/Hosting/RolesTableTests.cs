using System.Text.RegularExpressions;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Hosting;

/// <summary>
/// README's "Who may do what" table, checked against the handlers: each row's yes/no per role is what the real command
/// or approval path does for a user in that role (Slack:Declarers, Reviewers, Admins, Managers as configured below).
/// </summary>
public class RolesTableTests
{
    const string Declarer = InProcessBot.Declarer, Reviewer = InProcessBot.Reviewer, Admin = InProcessBot.Admin, Manager = "U0MANAGER", Other = InProcessBot.Outsider;
    static readonly string[] Roles = [Declarer, Reviewer, Admin, Manager, Other];

    static InProcessBot Bot() => InProcessBot.Create(new Dictionary<string, string?>
    {
        ["Slack:Declarers:0"] = Declarer, ["Slack:Managers:0"] = Manager, ["Policy:RequiredApprovals"] = "2",
    });

    /// <summary>Per row: whether a user may do its action on a change declared by <see cref="Declarer"/> (true: allowed).</summary>
    static readonly Dictionary<string, Func<InProcessBot, string, Task<bool>>> Probes = new()
    {
        ["declare"] = async (bot, user) =>
        {
            var before = bot.Store.Count();
            await bot.ReplyAsync("Roll back the payments deploy", user);
            return bot.Store.Count() > before;
        },
        ["approve, request changes"] = async (bot, user) =>
        {
            var change = await bot.DeclareAsync();
            return await bot.Service<Approvals>().ApproveAsync(change.ChangeId, user, null, "button", "1.1", null, CancellationToken.None) is ApprovalResult.Approved;
        },
        ["unapprove BG-n"] = async (bot, user) =>
        {
            var change = await bot.DeclareAsync();
            await bot.Service<Approvals>().ApproveAsync(change.ChangeId, Reviewer, null, "button", "1.1", null, CancellationToken.None);
            await bot.ReplyAsync($"unapprove {change.ChangeId}", user);
            return !bot.Change(change.Id).Approvals.Single().Stands;
        },
        ["cancel BG-n (bypass not used)"] = async (bot, user) =>
        {
            var change = await bot.DeclareAsync();
            await bot.ReplyAsync($"cancel {change.ChangeId} declared by mistake", user);
            return bot.Change(change.Id).Cancellation is not null;
        },
        ["cancel BG-n (bypass used)"] = async (bot, user) =>
        {
            var change = await bot.DeclareAsync();
            bot.Store.Update(change.Id, c =>
            {
                c.Bypass = new Bypass { Mode = "Team", Team = "acme/breakglass", Login = "hubot", GrantedAt = InProcessBot.Start, ExpiresAt = InProcessBot.Start.AddHours(2) };
                return [];
            });
            await bot.ReplyAsync($"cancel {change.ChangeId} the incident is over", user);
            return bot.Change(change.Id).Cancellation is not null;
        },
        ["link BG-n"] = async (bot, user) =>
        {
            var change = await bot.DeclareAsync();
            await bot.ReplyAsync($"link {change.ChangeId} OPS-7", user);
            return bot.Change(change.Id).JiraIssues.Count > 0;
        },
        ["assign BG-n (a detected bypass)"] = async (bot, user) =>
        {
            var change = await Detection.DetectedCases.OpenAsync(bot.App.Services, Declarer, number: bot.Store.Count() + 100);
            await bot.ReplyAsync($"assign {change.ChangeId} <@U0SOMEONE>", user);
            return bot.Change(change.Id).DeclaredBy == "U0SOMEONE";
        },
        ["export"] = async (bot, user) => !(await bot.ReplyAsync("export 2031-03-01 2031-03-31", user)).StartsWith(":no_entry:", StringComparison.Ordinal),
        ["people"] = async (bot, user) => !(await bot.ReplyAsync("people", user)).StartsWith(":no_entry:", StringComparison.Ordinal),
    };

    static List<(string Action, bool[] Allowed)> Table()
    {
        var readme = File.ReadAllLines(Path.Combine(Fixtures.RepositoryRoot, "README.md"));
        var header = Array.FindIndex(readme, l => l.StartsWith("| action | its declarer | reviewer | admin | manager | anyone else |", StringComparison.Ordinal));
        Assert.True(header >= 0, "README.md has the roles table");
        return [.. readme.Skip(header + 2).TakeWhile(l => l.StartsWith('|')).Select(l =>
        {
            var cells = l.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            return (Regex.Replace(cells[0], "[`]", ""), cells[1..6].Select(c => c.StartsWith("yes", StringComparison.Ordinal)
                ? true : c.StartsWith("no", StringComparison.Ordinal) ? false : throw new Xunit.Sdk.XunitException($"'{c}' in row '{cells[0]}' is neither yes nor no")).ToArray());
        })];
    }

    [Fact]
    public void EveryRowHasAProbeAndEveryProbeARow() =>
        Assert.Equal(Probes.Keys.Order(), Table().Select(r => r.Action).Order());

    public static TheoryData<string> Rows() => [.. Probes.Keys];

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task TheRowSaysWhatTheHandlerDoes(string action)
    {
        var (_, allowed) = Table().Single(r => r.Action == action);
        var actual = new bool[Roles.Length];
        await using var bot = Bot();
        for (var i = 0; i < Roles.Length; i++) actual[i] = await Probes[action](bot, Roles[i]);
        Assert.Equal(Describe(allowed), Describe(actual));
    }

    static string Describe(bool[] allowed) => string.Join(", ", Roles.Select((r, i) => $"{r}: {(allowed[i] ? "yes" : "no")}"));
}
