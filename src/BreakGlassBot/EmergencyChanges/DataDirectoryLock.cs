namespace BreakGlassBot.EmergencyChanges;

/// <summary>
/// One bot process per data directory: LiteDB's direct mode takes no file lock on Linux and the job store's locks
/// (<see cref="Deadlines.EmbeddedJobStorage"/>) are in-process. The kernel drops the lock when the process dies.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = "breakglass.lock";
    readonly FileStream file;

    DataDirectoryLock(FileStream file) => this.file = file;

    public static DataDirectoryLock Take(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        try
        {
            return new DataDirectoryLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            throw new DataDirectoryInUseException(directory);
        }
    }

    /// <summary>
    /// The lock for a reader that must not write (verify-audit): null when no bot ever ran there;
    /// throws <see cref="DataDirectoryInUseException"/> only when a bot holds the lock.
    /// </summary>
    public static DataDirectoryLock? TakeForReading(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return new DataDirectoryLock(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None));
        }
        catch (UnauthorizedAccessException)
        {
            return null; // not even readable: rely on the read-only open of the data file
        }
        catch (IOException)
        {
            throw new DataDirectoryInUseException(directory);
        }
    }

    public void Dispose() => file.Dispose();
}

public sealed class DataDirectoryInUseException(string directory) : Exception(
    $"The data directory {directory} is in use by another BreakGlassBot process. Stop that process first, or give this one its own Storage:DataDirectory. For an audit check while the bot runs, use GET /evidence/verify.")
{
    public string Directory { get; } = directory;
}
