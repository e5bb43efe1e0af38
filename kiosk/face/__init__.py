"""Face verification (人证核验) and liveness: computation over frames from any camera.

``verify.FaceVerifier`` compares live frames with a reference photo behind quality gates;
``liveness.LivenessChecker`` runs a randomised challenge-response; ``cli`` holds
``kiosk diag face compare`` and ``kiosk diag camera snapshot`` (which reports whether the
frame would pass the gates). See README.md for the measured cost and the threshold.
"""
