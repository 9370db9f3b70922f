using BreakGlassBot.Deadlines;
using BreakGlassBot.EmergencyChanges;
using BreakGlassBot.Tests.Support;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Deadlines;

[Trait("Category", "EndToEnd")]
public class ProcessLocksTests
{
    readonly ProcessLocks locks = new();

    /// <summary>Locks belong to threads (as Hangfire's dedicated threads use them); a pool task may run on the test's own thread.</summary>
    static Task<T> OnOtherThread<T>(Func<T> work) => OnOtherThread(work, out _);

    static Task<T> OnOtherThread<T>(Func<T> work, out Thread thread)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        thread = new Thread(() => { try { done.SetResult(work()); } catch (Exception e) { done.SetException(e); } });
        thread.Start();
        return done.Task;
    }

    static Task OnOtherThread(Action work) => OnOtherThread(() => { work(); return 0; });

    [Fact]
    public async Task ALockIsExclusiveAcrossThreadsAndTheWaiterGetsItOnRelease()
    {
        var held = locks.Acquire("locks:schedulepoller", TimeSpan.FromSeconds(1));
        var waiter = OnOtherThread(() => locks.Acquire("locks:schedulepoller", TimeSpan.FromSeconds(10)), out var waiting);
        // Blocked (in the lock's wait), or through it: then the lock was not exclusive and the assertion says so.
        await Eventually.Until(() => waiting.ThreadState.HasFlag(ThreadState.WaitSleepJoin) || waiter.IsCompleted, "the waiter blocks on the lock");
        Assert.False(waiter.IsCompleted);
        held.Dispose();
        using var second = await waiter.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, locks.Count);
    }

    [Fact]
    public async Task AWaiterTimesOutWithHangfiresExceptionAndLeavesNothingBehind()
    {
        using var held = locks.Acquire("job:7:state-lock", TimeSpan.FromSeconds(1));
        var e = await Assert.ThrowsAsync<DistributedLockTimeoutException>(() => OnOtherThread(() => locks.Acquire("job:7:state-lock", TimeSpan.FromMilliseconds(100))));
        Assert.Contains("job:7:state-lock", e.Message);
        Assert.Equal(1, locks.Count);
    }

    [Fact]
    public async Task TheHoldingThreadMayTakeItAgainAndItIsFreedAfterTheLastRelease()
    {
        var outer = locks.Acquire("recurring-jobs:lock", TimeSpan.FromSeconds(1));
        var inner = locks.Acquire("recurring-jobs:lock", TimeSpan.Zero);
        inner.Dispose();
        inner.Dispose(); // twice is once
        await Assert.ThrowsAsync<DistributedLockTimeoutException>(() => OnOtherThread(() => locks.Acquire("recurring-jobs:lock", TimeSpan.Zero)));
        outer.Dispose();
        Assert.Equal(0, locks.Count);
        await OnOtherThread(() => locks.Acquire("recurring-jobs:lock", TimeSpan.Zero).Dispose());
    }

    [Fact]
    public async Task ALockTakenOnOneThreadIsReleasedFromAnother()
    {
        var held = await OnOtherThread(() => locks.Acquire("job:1:state-lock", TimeSpan.FromSeconds(1)));
        await OnOtherThread(held.Dispose);
        using var again = locks.Acquire("job:1:state-lock", TimeSpan.Zero);
        Assert.Equal(1, locks.Count);
    }

    [Fact]
    public async Task DifferentResourcesDoNotBlockEachOther()
    {
        using var a = locks.Acquire("job:1:state-lock", TimeSpan.Zero);
        using var b = await OnOtherThread(() => locks.Acquire("job:2:state-lock", TimeSpan.Zero));
        Assert.Equal(2, locks.Count);
    }
}

[Trait("Category", "EndToEnd")]
public class HostIsolationTests
{
    /// <summary>
    /// Hangfire's own registration hands the server the process-wide JobActivator.Current; with two hosts starting
    /// together one host's jobs were built from the other's container. Each host now has its own.
    /// </summary>
    [Fact]
    public async Task AHostsJobsAreBuiltFromItsOwnContainerWhateverTheProcessWideActivatorIs()
    {
        var data = TestBot.NewDataDirectory();
        await using var app = Program.Create([$"--Storage:DataDirectory={data}", "--urls=http://127.0.0.1:0"]);
        var previous = JobActivator.Current;
        try
        {
            app.Services.GetRequiredService<IGlobalConfiguration>(); // this host configures Hangfire (process-wide)...
            JobActivator.Current = new JobActivator();               // ...and another host does so just after
            var activator = app.Services.GetRequiredService<JobActivator>();
            Assert.NotSame(JobActivator.Current, activator);
            using var connection = app.Services.GetRequiredService<JobStorage>().GetConnection();
            using var scope = activator.BeginScope(new JobActivatorContext(connection,
                new BackgroundJob("1", Hangfire.Common.Job.FromExpression<TrackChangeJob>(j => j.RunAsync(1, null, CancellationToken.None)), DateTime.UtcNow), new JobCancellationToken(false)));
            Assert.IsType<TrackChangeJob>(scope.Resolve(typeof(TrackChangeJob)));
            Assert.Same(app.Services.GetRequiredService<ChangeStore>(), scope.Resolve(typeof(ChangeStore)));
        }
        finally
        {
            JobActivator.Current = previous;
        }
        await app.DisposeAsync();
        try { Directory.Delete(data, true); } catch (IOException) { }
    }
}
