namespace BreakGlassBot.Detection;

public static class DetectionKeys { public const string Responsible = "detected"; public const string Assign = "detected-assign"; public const string ExplainAction = "explain_detected"; public const string ExplainCallback = "explain_detected"; }
