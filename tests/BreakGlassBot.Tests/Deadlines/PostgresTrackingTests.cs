using BreakGlassBot.Tests.Support;

namespace BreakGlassBot.Tests.Deadlines;

/// <summary>
/// The same end-to-end tracking with Hangfire on a real PostgreSQL (Storage:Hangfire = PostgreSql): Debian's package,
/// started on loopback by <see cref="PostgresServer"/>, one fresh database per test (kept across the test's restart).
/// </summary>
[Collection(PostgresCollection.Name)]
[Trait("Category", "EndToEnd")]
public class PostgresTrackingTests(PostgresServer postgres) : TrackingEndToEnd
{
    protected override async Task<IDictionary<string, string?>> StorageSettingsAsync() => new Dictionary<string, string?>
    {
        ["Storage:Hangfire"] = "PostgreSql",
        ["Storage:ConnectionString"] = await postgres.NewDatabaseAsync(),
    };

    protected override void AssertJobStore(TestBot bot) => Assert.IsType<Hangfire.PostgreSql.PostgreSqlStorage>(bot.Service<Hangfire.JobStorage>());
}
