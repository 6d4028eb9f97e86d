from voicedesk.entry import main

main()
