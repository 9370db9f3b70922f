namespace BreakGlassBot.Slack;

/// <summary>
/// Answers read from Slack (user groups' members, users.info), kept per key for a few minutes. A read that is slow (beyond
/// its budget: a command must be answered within 3 s) or fails answers with the last known value, or none, and the error.
/// </summary>
public sealed class SlackReadCache<T>(TimeProvider time, TimeSpan cacheFor, TimeSpan budget) where T : class
{
    readonly Lock gate = new();
    readonly Dictionary<string, (DateTimeOffset At, T Value)> entries = [];

    public async Task<(T? Value, string? Error)> GetAsync(string key, Func<CancellationToken, Task<T>> read, CancellationToken ct)
    {
        (DateTimeOffset At, T Value)? known;
        lock (gate) known = entries.TryGetValue(key, out var k) ? k : null;
        if (known is { } fresh && time.GetUtcNow() - fresh.At < cacheFor) return (fresh.Value, null);
        try
        {
            var value = await read(ct).WaitAsync(budget, time, ct);
            lock (gate) entries[key] = (time.GetUtcNow(), value);
            return (value, null);
        }
        catch (Exception e) when (e is SlackApiException or TimeoutException)
        {
            return (known?.Value, e is SlackApiException s ? s.Error : "timeout");
        }
    }
}
