using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>The ids kept to refuse retries (Slack events, GitHub deliveries, Home-tab openings) do not grow for ever.</summary>
public sealed class SeenPruneTests : IDisposable
{
    readonly string directory = TestBot.NewDataDirectory();

    public void Dispose()
    {
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void IdsOlderThanTheRetentionAreForgottenAndNewerOnesStillRefuseARetry()
    {
        Directory.CreateDirectory(directory);
        using var store = new ChangeStore(Path.Combine(directory, "breakglass.db"));
        var now = new DateTimeOffset(2026, 12, 3, 3, 0, 0, TimeSpan.Zero);
        Assert.True(store.MarkSeen("event:Ev-old", now.AddDays(-8)));
        Assert.True(store.MarkSeen("github-delivery:new", now.AddDays(-1)));
        var job = new SeenPruneJob(store, Options.Create(new StorageOptions { SeenRetention = TimeSpan.FromDays(7) }), new FakeTimeProvider(now),
            NullLogger<SeenPruneJob>.Instance);

        Assert.Equal(1, job.Run());

        Assert.False(store.WasSeen("event:Ev-old"));
        Assert.True(store.WasSeen("github-delivery:new"));
        Assert.False(store.MarkSeen("github-delivery:new", now)); // still refused as a repeat
    }
}
