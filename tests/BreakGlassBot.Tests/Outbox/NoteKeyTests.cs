using BreakGlassBot.Deadlines;
using BreakGlassBot.Declaring;
using BreakGlassBot.GitHub;
using BreakGlassBot.Jira;
using BreakGlassBot.Outbox;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Outbox;

/// <summary>Thread note keys: each note the code enqueues has exactly one source that renders it.</summary>
public sealed class NoteKeyTests
{
    [Theory]
    [InlineData("cancelled", "cancelled", null)]
    [InlineData("approved:0", "approved", "0")]
    [InlineData("links-added:U1:acme/pay#42 OPS-7", "links-added", "U1:acme/pay#42 OPS-7")]
    [InlineData("github-merged:", "github-merged", "")]
    public void AKeyIsANameAndAnArgumentAfterTheFirstColon(string key, string name, string? argument)
    {
        var parsed = NoteKey.Parse(key);
        Assert.Equal(new NoteKey(name, argument), parsed);
        Assert.Equal(key, parsed.ToString());
    }

    /// <summary>A key of every note the bot enqueues, built the way the code builds it.</summary>
    public static TheoryData<string> EnqueuedKeys() =>
    [
        StepNotes.Failed(0), StepNotes.Recovered(0), StepNotes.GaveUp(0),
        CancelledNote.Key, LinksAddedNote.Key("U1", ["acme/pay#42"]),
        Approvals.ApprovedNotePrefix + 0, Approvals.ChangesRequestedNotePrefix + 0, Approvals.RefusalNotePrefix + "U1", Approvals.NotCountedNotePrefix + "U1",
        DeadlineMessages.ReviewedNote, DeadlineMessages.OverdueNote,
        JiraNotes.Created("OPS-7"), JiraNotes.Moved("OPS-7"),
        GitHubNotes.BypassGranted, GitHubNotes.BypassEnded, GitHubNotes.Merged("acme/pay#42"),
        BypassNotes.RemovalStuck, BypassNotes.MergedElsewhere("acme/pay#42"),
    ];

    [Theory]
    [MemberData(nameof(EnqueuedKeys))]
    public async Task EveryEnqueuedNoteHasExactlyOneSource(string key)
    {
        var directory = TestBot.NewDataDirectory();
        var app = Program.Create([$"--Storage:DataDirectory={directory}", "--urls=http://127.0.0.1:0"]);
        try
        {
            var owners = app.Services.GetServices<IThreadNoteSource>().Where(s => s.Names.Contains(NoteKey.Parse(key).Name)).ToList();
            Assert.Single(owners);
            // The step that posts notes builds its routing table at start-up; a name claimed twice would throw here.
            Assert.Contains(app.Services.GetServices<IStepHandler>(), h => h.Kind == StepKinds.ThreadNote);
        }
        finally
        {
            await app.DisposeAsync();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }
}
