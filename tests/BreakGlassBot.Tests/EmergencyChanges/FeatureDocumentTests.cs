using BreakGlassBot.EmergencyChanges;

namespace BreakGlassBot.Tests.EmergencyChanges;

/// <summary>A feature's own documents, read and written from several threads at once, as the bot does.</summary>
public class FeatureDocumentTests
{
    public sealed class Probe
    {
        public string Id { get; set; } = "";
        public long Number { get; set; }
        public string Text { get; set; } = "";
        public DateTimeOffset At { get; set; }
        public List<ProbeItem> Items { get; set; } = [];
    }

    public sealed class ProbeItem
    {
        public string Name { get; set; } = "";
        public int Count { get; set; }
    }

    /// <summary>
    /// LiteDB publishes a type's mapper before it has filled in its members (BsonMapper.BuildAddEntityMapper), so a document
    /// written while another thread maps the type for the first time could be stored without fields: a verified GitHub
    /// link was kept with id 0. Each round is a fresh store, so a fresh mapper, first used by several threads at once.
    /// </summary>
    [Fact]
    public async Task ADocumentWrittenWhileOthersReadItsTypeForTheFirstTimeKeepsEveryField()
    {
        var lost = new List<string>();
        for (var round = 0; round < 40; round++)
        {
            var directory = Path.Combine(Path.GetTempPath(), "bgb-docs-" + Guid.NewGuid().ToString("N"));
            using (var store = new ChangeStore(Path.Combine(directory, "breakglass.db")))
            {
                // Written without the mapper, so the readers below are the first to map Probe and ProbeItem.
                store.SaveDocument<LiteDB.BsonDocument>("probes", "q", _ => new LiteDB.BsonDocument
                {
                    ["_id"] = "q", ["Number"] = 7L, ["Items"] = new LiteDB.BsonArray { new LiteDB.BsonDocument { ["Name"] = "b", ["Count"] = 3 } },
                });
                using var go = new ManualResetEventSlim();
                var misread = 0;
                var readers = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
                {
                    go.Wait();
                    for (var i = 0; i < 20; i++)
                    {
                        store.Document<Probe>("probes", "p");
                        if (store.Document<Probe>("probes", "q") is not { Number: 7, Items: [{ Name: "b", Count: 3 }] }) Interlocked.Increment(ref misread);
                    }
                }, TaskCreationOptions.LongRunning)).ToList();
                var writer = Task.Factory.StartNew(() =>
                {
                    go.Wait();
                    store.SaveDocument<Probe>("probes", "p", _ => new Probe { Id = "p", Number = 583231, Text = "t", At = DateTimeOffset.UnixEpoch.AddDays(1), Items = [new() { Name = "a", Count = 2 }] });
                }, TaskCreationOptions.LongRunning);
                go.Set();
                await Task.WhenAll([.. readers, writer]);
                var kept = store.Document<Probe>("probes", "p")!;
                if (kept.Number != 583231 || kept.Text != "t" || kept.At != DateTimeOffset.UnixEpoch.AddDays(1) || kept.Items is not [{ Name: "a", Count: 2 }] || misread > 0)
                    lost.Add($"round {round}: {System.Text.Json.JsonSerializer.Serialize(kept)}, {misread} misread");
            }
            Directory.Delete(directory, true);
        }
        Assert.Empty(lost);
    }
}
