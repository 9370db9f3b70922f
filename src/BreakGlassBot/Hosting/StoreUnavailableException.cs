namespace BreakGlassBot.Hosting;

/// <summary>
/// The store could not be reached or did not finish (PostgreSQL down, failing over, read-only, a lock not granted in time):
/// the write was most likely not saved, but a commit cut off mid-way may have been, so callers say "may not have been
/// recorded". Never thrown for a write the store refused on its merits. Here, not beside the store, so the Slack layer can
/// answer it.
/// </summary>
public sealed class StoreUnavailableException(string message, Exception inner) : System.Data.Common.DbException(message, inner);
