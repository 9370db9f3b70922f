using BreakGlassBot.Declaring;
using BreakGlassBot.Detection;
using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Tests.Detection;

/// <summary>The message builders for detected cases, called directly: what each shows, and that declared changes read as before.</summary>
public class DetectedSlackMessageTests
{
    static readonly DateTimeOffset Now = new(2031, 3, 3, 10, 0, 0, TimeSpan.Zero);
    readonly ChangeMessages messages = new(null, "C0CHANGES");
    readonly DetectionDirectMessages directMessages = new();

    static EmergencyChange Declared() => new()
    {
        Id = 3, DeclaredBy = "U0DECLARER", Summary = "Roll back the payments deploy", Justification = "Payments failing", DeclaredAt = Now, DueAt = Now.AddHours(24),
        PullRequests = [new LinkedPullRequest { Owner = "acme", Repo = "pay", Number = 42 }],
    };

    static EmergencyChange Detected(string responsible = "U0MERGER") => new()
    {
        Id = 7, DeclaredBy = responsible, Summary = "Undeclared bypass: acme/api#12 merged into main without review", DeclaredAt = Now, DueAt = Now.AddHours(24),
        Source = DetectedBypass.SourceName,
        Detected = new DetectedBypass
        {
            Key = "pr:acme/api#12", Kind = DetectedBypass.PullRequestKind, Repository = "acme/api", Branch = "main", Number = 12, Actor = "octocat",
            Reason = "merged without an approving review", FoundBy = ["webhook"],
        },
        PullRequests = [new LinkedPullRequest { Owner = "acme", Repo = "api", Number = 12 }],
    };

    [Fact]
    public void ADeclaredChangesAnnouncementReadsAsBefore()
    {
        var message = messages.Announcement(Declared(), Now);
        Assert.Equal("🚨 BG-3 emergency change by <@U0DECLARER>: Roll back the payments deploy (:hourglass_flowing_sand: Open, awaiting retrospective review)", message.Text);
        var blocks = message.Blocks!;
        Assert.Equal("🚨 BG-3 · Emergency change", blocks[0]!["text"]!["text"]!.GetValue<string>());
        Assert.Equal("*Declared by*\n<@U0DECLARER>", blocks[2]!["fields"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("Review this change retrospectively: details and approvals in this thread.", blocks[3]!["elements"]![0]!["text"]!.GetValue<string>());
        Assert.StartsWith("*Details of BG-3*\n• Declared: ", messages.Details(Declared(), "24 hours").Text);
    }

    [Fact]
    public void ADetectedCaseIsHeadedAsAnUndeclaredBypass()
    {
        var message = messages.Announcement(Detected(), Now);
        Assert.Equal(":mag: Undeclared bypass detected: BG-7", message.Blocks![0]!["text"]!["text"]!.GetValue<string>());
        Assert.StartsWith(":mag: Undeclared bypass detected: BG-7", message.Text);
    }

    [Fact]
    public void AnAbsorbedCaseReadsClosedDeclaredAsItsDeclaration()
    {
        var c = Detected();
        c.Status = ChangeStatus.Closed;
        c.Detected!.AbsorbedBy = 9;
        Assert.Equal(":lock: Closed — declared as BG-9", messages.StatusWord(c, Now));
        Assert.Contains(":lock: Closed — declared as BG-9", messages.Announcement(c, Now).Text);
        // A declared change closed for another reason keeps its word.
        var declared = Declared();
        declared.Status = ChangeStatus.Closed;
        Assert.Equal(":lock: Closed", messages.StatusWord(declared, Now));
    }

    [Fact]
    public void ACaseWithNobodyResponsibleSaysSoInListsAndStatus()
    {
        var c = Detected(responsible: "");
        Assert.Contains("nobody known", messages.Line(c, Now));
        var status = messages.StatusBlocks(c, Now).ToJsonString();
        Assert.Contains("nobody known", status);
        Assert.DoesNotContain("<@>", messages.Line(c, Now) + status);
    }

    [Fact]
    public void TheResponsiblePersonsMessageIsOnlyForThemWhileTheCaseIsUnexplained()
    {
        Assert.NotNull(directMessages.Render(Detected(), DetectionKeys.Responsible, "U0MERGER", Now));
        Assert.Null(directMessages.Render(Detected(), DetectionKeys.Responsible, "U0SOMEONEELSE", Now)); // reassigned since it was owed
        var explained = Detected();
        explained.Detected!.ExplainedAt = Now;
        Assert.Null(directMessages.Render(explained, DetectionKeys.Responsible, "U0MERGER", Now));
        Assert.Null(directMessages.Render(Declared(), DetectionKeys.Responsible, "U0DECLARER", Now));
    }

    [Fact]
    public void AdminsAreAskedOnlyWhileNobodyIsResponsible()
    {
        Assert.NotNull(directMessages.Render(Detected(responsible: ""), DetectionKeys.Assign, "U0ADMIN", Now));
        Assert.Null(directMessages.Render(Detected(), DetectionKeys.Assign, "U0ADMIN", Now));
        Assert.Equal(DetectionDirectMessages.AssignAskedType, directMessages.AuditTypeFor(DetectionKeys.Assign));
        Assert.Equal(DetectionDirectMessages.ResponsibleAskedType, directMessages.AuditTypeFor(DetectionKeys.Responsible));
    }

    [Fact]
    public void OtherSourcesKeysAreNotAnswered()
    {
        foreach (var key in new[] { "reminder:1", "declarer-reminder:1", "escalation:1", "announcement-blocked:not_in_channel" })
            Assert.Null(directMessages.Render(Detected(responsible: ""), key, "U0MERGER", Now));
    }
}
