namespace BreakGlassBot.Tests.Support;

public static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after <paramref name="timeout"/> (default 20 s: only a failing test waits that long).</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Timed out waiting for: " + what);
            await Task.Delay(20); // the polling interval: the condition is asked again, nothing waits for a fixed time
        }
    }

    /// <summary>Asserts that <paramref name="condition"/> stays true for <paramref name="period"/>.</summary>
    public static async Task Stays(Func<bool> condition, string what, TimeSpan period)
    {
        var end = DateTime.UtcNow + period;
        while (DateTime.UtcNow < end)
        {
            Assert.True(condition(), "Expected to stay true: " + what);
            await Task.Delay(20); // the polling interval within the period the caller gives
        }
    }
}
