namespace ManimCloud.Domain;

/// <summary>How an error should be handled: retried, waited out, or reported (SPEC R7).</summary>
public enum ErrorKind
{
    InvalidInput,
    NotFound,
    Conflict,
    Locked,
    Transient,
    Throttled,
    Auth,
    ClientError,
    Fatal,
}

/// <summary>
/// Every failure ManimCloud reports: what happened, to what, and what to do next (<see cref="Hint"/>).
/// The cause is kept as the inner exception, never swallowed.
/// </summary>
public class ManimCloudException : Exception
{
    public ErrorKind Kind { get; }
    public string Hint { get; }

    public ManimCloudException(ErrorKind kind, string message, string hint, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Hint = hint;
    }

    public bool IsRetryable => Kind is ErrorKind.Transient or ErrorKind.Throttled;

    /// <summary>Process exit code per class, so scripts can tell "fix your input" from "try later".</summary>
    public int ExitCode => Kind switch
    {
        ErrorKind.InvalidInput => 2,
        ErrorKind.NotFound => 3,
        ErrorKind.Conflict or ErrorKind.Locked => 4,
        ErrorKind.Auth => 5,
        ErrorKind.Transient or ErrorKind.Throttled => 6,
        _ => 1,
    };
}

/// <summary>A write whose expected base revision no longer matches what is stored.</summary>
public sealed class ConcurrencyConflictException(string message, string hint)
    : ManimCloudException(ErrorKind.Conflict, message, hint);
