using System.Text.Json;
using System.Text.Json.Nodes;

namespace BreakGlassBot.Sandbox;

public sealed class SandboxMessage
{
    public string Channel { get; set; } = "";
    public string Ts { get; set; } = "";
    public string? ThreadTs { get; set; }
    public string User { get; set; } = "";
    public bool FromBot { get; set; }
    public string Text { get; set; } = "";
    public JsonArray? Blocks { get; set; }
    public JsonObject? Metadata { get; set; }
    public bool Broadcast { get; set; }
    public bool Edited { get; set; }
    public bool IsReply => ThreadTs is not null && ThreadTs != Ts;
}

/// <summary>A message only one person sees (chat.postEphemeral, an ephemeral response_url answer, a slash command's reply).</summary>
public sealed class SandboxEphemeral
{
    public string Id { get; set; } = "";
    public string Channel { get; set; } = "";
    public string? ThreadTs { get; set; }
    public string User { get; set; } = "";
    public string Ts { get; set; } = "";
    public string Text { get; set; } = "";
    public JsonArray? Blocks { get; set; }
}

/// <summary>The modal open for one person (views.open), with the errors of the last submission.</summary>
public sealed class SandboxView
{
    public string Id { get; set; } = "";
    public string User { get; set; } = "";
    public JsonObject View { get; set; } = [];
    public int Revision { get; set; }
    public Dictionary<string, string>? Errors { get; set; }
    public string? Problem { get; set; }
}

public sealed class SandboxJiraComment
{
    public string Id { get; set; } = "";
    public JsonNode? Body { get; set; }
    public string Text { get; set; } = "";
    public string Author { get; set; } = "";
    public DateTimeOffset At { get; set; }
}

public sealed class SandboxJiraIssue
{
    public string Id { get; set; } = "";
    public string Key { get; set; } = "";
    public string Summary { get; set; } = "";
    public bool Done { get; set; }
    public List<string> Labels { get; set; } = [];
    public List<SandboxJiraComment> Comments { get; set; } = [];
    public string StatusName => Done ? "Done" : "In Review";
    public string CategoryKey => Done ? "done" : "indeterminate";
    public string CategoryName => Done ? "Done" : "In Progress";
}

public sealed class SandboxGitHubComment
{
    public long Id { get; set; }
    public string Body { get; set; } = "";
    public string Login { get; set; } = "";
    public long UserId { get; set; }
    public DateTimeOffset At { get; set; }
}

public sealed class SandboxGitHubReview
{
    public long Id { get; set; }
    public string Login { get; set; } = "";
    public long UserId { get; set; }
    /// <summary>APPROVED, or DISMISSED once the page dismisses it (GitHub keeps dismissed reviews).</summary>
    public string State { get; set; } = "APPROVED";
    public string Body { get; set; } = "";
    public DateTimeOffset SubmittedAt { get; set; }
    public string CommitId { get; set; } = "";
}

/// <summary>A pull request of the stand-in GitHub, which the bot reads and writes through its real GitHub client.</summary>
public sealed class SandboxPullRequest
{
    public string Ref { get; set; } = "";
    public string Url { get; set; } = "";
    public string Owner { get; set; } = "";
    public string Repo { get; set; } = "";
    public int Number { get; set; }
    public long Id { get; set; }
    public string Title { get; set; } = "";
    public string Author { get; set; } = "";
    public long AuthorId { get; set; }
    public string HeadRef { get; set; } = "";
    public string HeadSha { get; set; } = "";
    public string BaseRef { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public List<string> Labels { get; set; } = [];
    public List<SandboxGitHubComment> Comments { get; set; } = [];
    public List<SandboxGitHubReview> Reviews { get; set; } = [];
    public long NextId { get; set; } = 1;
    public bool Merged { get; set; }
    public DateTimeOffset? MergedAt { get; set; }
    public string? MergedBy { get; set; }
    public long? MergedById { get; set; }
    public string? MergeCommitSha { get; set; }

    /// <summary>Approved by someone other than the author, and not dismissed: what the bot's review rule looks for.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Approved => Reviews.Any(r => r.State == "APPROVED" && r.UserId != AuthorId);
}

/// <summary>A commit on a branch of the stand-in repository (a merge commit the page made): what GET commits lists.</summary>
public sealed class SandboxCommit
{
    public string Sha { get; set; } = "";
    public string Branch { get; set; } = "";
    public string AuthorLogin { get; set; } = "";
    public long AuthorId { get; set; }
    public DateTimeOffset At { get; set; }
    public string Message { get; set; } = "";
    /// <summary>The pull request whose merge made it (GET commits/{sha}/pulls); null for a direct push.</summary>
    public int? PullRequest { get; set; }
}

public sealed record WireEntry(DateTimeOffset At, string Direction, string What, bool Ok);

/// <summary>
/// Everything the stand-ins hold, under one lock. Every change bumps the version the page long-polls on and is saved,
/// so a restarted sandbox still has the threads the bot's store points at.
/// </summary>
public sealed class SandboxState
{
    const string FileName = "sandbox-workspace.json";
    const int WireLimit = 60;
    static readonly JsonSerializerOptions FileJson = new() { WriteIndented = false };

    readonly Lock gate = new();
    readonly string path;
    readonly TimeProvider time;
    readonly ILogger<SandboxState> log;
    Saved saved;
    readonly List<SandboxEphemeral> ephemerals = [];
    readonly Dictionary<string, SandboxView> views = [];
    readonly Dictionary<string, (string User, DateTimeOffset At)> triggers = [];
    readonly Dictionary<string, (string User, string Channel, string? ThreadTs)> responseUrls = [];
    readonly LinkedList<WireEntry> wire = new();
    long version = 1;
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    sealed class Saved
    {
        public long LastTs { get; set; }
        public long NextId { get; set; } = 1;
        public List<SandboxMessage> Messages { get; set; } = [];
        public List<SandboxJiraIssue> Jira { get; set; } = [];
        public List<SandboxPullRequest> PullRequests { get; set; } = [];
        public List<SandboxCommit> Commits { get; set; } = [];
    }

    public SandboxState(SandboxContext context, TimeProvider time, ILogger<SandboxState> log)
    {
        this.time = time;
        this.log = log;
        Directory.CreateDirectory(context.DataDirectory);
        path = Path.Combine(context.DataDirectory, FileName);
        saved = Load(path) ?? new Saved();
        if (saved.Jira.Count == 0)
            saved.Jira.Add(new SandboxJiraIssue { Id = "10001", Key = "SBX-1", Summary = "Payments deploy 2026.11 rolled back: follow-up review", Labels = ["payments"] });
        // A workspace saved before the stand-in GitHub existed has a card without owner, number or author id: start it afresh.
        if (saved.PullRequests.Count == 0 || saved.PullRequests.Any(p => p.Number == 0 || p.AuthorId == 0))
            saved.PullRequests = [NewPullRequest(42, "Revert payments deploy 2026.11", "revert-payments-2026-11", "5b1f0c9e7d2a4b6c8e0f1a3b5c7d9e1f2a4b6c8d", time.GetUtcNow())];
    }

    /// <summary>An open pull request by the declarer into the watched branch of the stand-in repository.</summary>
    public static SandboxPullRequest NewPullRequest(int number, string title, string headRef, string headSha, DateTimeOffset at) => new()
    {
        Ref = $"{SandboxPeople.GitHubRepository}#{number}", Url = $"https://github.com/{SandboxPeople.GitHubRepository}/pull/{number}",
        Owner = SandboxPeople.GitHubOwner, Repo = SandboxPeople.GitHubRepo, Number = number, Id = 1_042_000_000 + number,
        Title = title, Author = SandboxPeople.GitHubAuthor, AuthorId = SandboxPeople.GitHubAuthorId,
        HeadRef = headRef, HeadSha = headSha, BaseRef = SandboxPeople.GitHubBranch, CreatedAt = at,
    };

    public T Read<T>(Func<SandboxStateView, T> read)
    {
        lock (gate) return read(new SandboxStateView(this));
    }

    /// <summary>Changes the state under the lock, then saves and wakes the pages waiting for a change.</summary>
    public T Change<T>(Func<SandboxStateView, T> change, bool persist = true)
    {
        T result;
        TaskCompletionSource wake;
        lock (gate)
        {
            result = change(new SandboxStateView(this));
            version++;
            if (persist) Save();
            wake = changed;
            changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
        return result;
    }

    public void Change(Action<SandboxStateView> change, bool persist = true) => Change(v => { change(v); return true; }, persist);

    public long Version { get { lock (gate) return version; } }

    /// <summary>Returns when the state is newer than <paramref name="since"/>, or after <paramref name="max"/>.</summary>
    public async Task WaitForChangeAsync(long since, TimeSpan max, CancellationToken ct)
    {
        Task wait;
        lock (gate)
        {
            if (version > since) return;
            wait = changed.Task;
        }
        try { await wait.WaitAsync(max, time, ct); }
        catch (TimeoutException) { }
    }

    public void Wire(string direction, string what, bool ok) => Change(v => { v.AddWire(direction, what, ok); return true; }, persist: false);

    void Save()
    {
        try
        {
            var temp = path + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(saved, FileJson));
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException e) { log.LogWarning("Could not save the sandbox workspace to {Path}: {Error}", path, e.Message); }
    }

    Saved? Load(string file)
    {
        if (!File.Exists(file)) return null;
        try { return JsonSerializer.Deserialize<Saved>(File.ReadAllText(file), FileJson); }
        catch (JsonException e)
        {
            log.LogWarning("Ignoring an unreadable sandbox workspace file {Path}: {Error}", file, e.Message);
            return null;
        }
    }

    /// <summary>The state as seen inside the lock.</summary>
    public readonly struct SandboxStateView(SandboxState s)
    {
        public List<SandboxMessage> Messages => s.saved.Messages;
        public List<SandboxEphemeral> Ephemerals => s.ephemerals;
        public Dictionary<string, SandboxView> Views => s.views;
        public List<SandboxJiraIssue> Jira => s.saved.Jira;
        public List<SandboxPullRequest> PullRequests => s.saved.PullRequests;
        public List<SandboxCommit> Commits => s.saved.Commits;
        public IEnumerable<WireEntry> WireLog => s.wire;
        public long Version => s.version;
        public DateTimeOffset Now => s.time.GetUtcNow();

        /// <summary>A Slack-style message timestamp ("seconds.micros"), unique and increasing.</summary>
        public string NextTs()
        {
            var micros = s.time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
            s.saved.LastTs = Math.Max(micros, s.saved.LastTs + 1);
            return $"{s.saved.LastTs / 1_000_000}.{s.saved.LastTs % 1_000_000:D6}";
        }

        public string NextId(string prefix) => prefix + (s.saved.NextId++).ToString("D6") + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));

        public SandboxMessage? Find(string channel, string ts) => s.saved.Messages.FirstOrDefault(m => m.Channel == channel && m.Ts == ts);

        public string NewTrigger(string user)
        {
            var id = $"{s.time.GetUtcNow().ToUnixTimeSeconds()}.{s.saved.NextId++}.{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}";
            s.triggers[id] = (user, s.time.GetUtcNow());
            return id;
        }

        /// <summary>The user a trigger_id was issued to, while it is fresh (Slack: 3 seconds; a little more here for slow machines).</summary>
        public string? TakeTrigger(string? id)
        {
            if (id is null || !s.triggers.Remove(id, out var t)) return null;
            return s.time.GetUtcNow() - t.At <= TimeSpan.FromSeconds(10) ? t.User : null;
        }

        public string NewResponseUrl(string baseUrl, string user, string channel, string? threadTs)
        {
            var id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
            s.responseUrls[id] = (user, channel, threadTs);
            return $"{baseUrl}{StandInSlack.ResponsePath}/{id}";
        }

        public (string User, string Channel, string? ThreadTs)? ResponseTarget(string id) =>
            s.responseUrls.TryGetValue(id, out var t) ? t : null;

        public void AddWire(string direction, string what, bool ok)
        {
            s.wire.AddLast(new WireEntry(s.time.GetUtcNow(), direction, what, ok));
            while (s.wire.Count > WireLimit) s.wire.RemoveFirst();
        }
    }
}
